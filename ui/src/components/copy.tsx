import { useState } from 'preact/hooks';

/** A command in a read-only field with a button that copies it (falls back to selecting the text). */
export function CopyField({ label, value }: { label: string; value: string }) {
  const [copied, setCopied] = useState(false);
  const id = `copy-${label.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`;
  const copy = async (event: Event) => {
    const input = (event.currentTarget as HTMLElement).parentElement!.querySelector('input')!;
    try {
      await navigator.clipboard.writeText(value);
    } catch {
      input.select();
      document.execCommand('copy');
    }
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };
  return (
    <div class="copy">
      <label for={id}>{label}</label>
      <div class="copy-row">
        <input id={id} readOnly value={value} onFocus={(e) => (e.currentTarget as HTMLInputElement).select()} />
        <button type="button" onClick={copy} aria-label={`Copy ${label}`}>
          {copied ? 'Copied' : 'Copy'}
        </button>
      </div>
    </div>
  );
}
