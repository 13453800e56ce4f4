// A version's evidence: its CycloneDX ML-BOM (GET …/bom, viewed or saved) and the model signatures
// attached to it (GET …/signatures). The server verified each signature against a trusted key
// before storing it and refuses any other, so a listed signature is a verified one; the console
// shows which key and what it covered, and never re-judges it.
import { api, modelPath } from '../api';
import { pretty, shortDigest, time } from '../format';
import { useLoad } from '../load';
import type { SignatureRecord } from '../types';
import { DownloadButton } from './download-button';
import { Load } from './states';
import { DataTable } from './table';

type SignatureView = Omit<SignatureRecord, 'bundle'>;

interface BomSummary {
  specVersion?: string;
  serialNumber?: string;
  metadata?: { component?: { components?: { type?: string }[] } };
  components?: { type?: string }[];
}

export function Evidence({ name, version, seq }: { name: string; version: number; seq: number }) {
  const base = `/v1/models/${modelPath(name)}/versions/${version}`;
  const signatures = useLoad(() => api<{ signatures: SignatureView[] }>(`${base}/signatures`).then((r) => r.signatures), [base, seq]);
  const bom = useLoad(() => api<BomSummary>(`${base}/bom`), [base, seq]);
  const file = `${name.replace(/\//g, '_')}-v${version}`;
  return (
    <>
      <h2>Signatures</h2>
      <Load state={signatures} what="signatures">
        {(list) =>
          list.length === 0 ? (
            <p class="muted" data-testid="signature-status">
              Not signed: no model signature is attached to this version.
            </p>
          ) : (
            <>
              <p class="verify ok" data-testid="signature-status">
                Signed and verified: {list.length} signature(s), each checked by the server against a trusted key and the version's file
                list when attached.
              </p>
              <DataTable class="signatures" columns={['Key', 'Signed as', 'Root digest', 'Attached', 'Bundle']}>
                <tbody>
                  {list.map((s) => (
                    <tr key={s.id} data-signature={s.keyId}>
                      <td>
                        <code>{s.keyId}</code>
                      </td>
                      <td class="wrap">{s.modelName}</td>
                      <td>
                        <code title={s.rootDigest}>{shortDigest(`sha256:${s.rootDigest}`)}</code>
                      </td>
                      <td class="wrap">
                        {time(s.addedAt)} by {s.addedBy}
                      </td>
                      <td>
                        <DownloadButton
                          label="Save bundle"
                          path={`${base}/signatures/${encodeURIComponent(s.id)}`}
                          filename={`${file}-${s.keyId}.sigstore.json`}
                        />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </DataTable>
            </>
          )
        }
      </Load>

      <h2>Bill of materials</h2>
      <Load state={bom} what="the BOM">
        {(doc) => {
          const inner = doc.metadata?.component?.components ?? [];
          const outer = doc.components ?? [];
          const count = (type: string) => [...inner, ...outer].filter((c) => c.type === type).length;
          return (
            <>
              <p data-testid="bom-summary">
                CycloneDX {doc.specVersion} ML-BOM: {count('file')} file(s), {count('data')} dataset(s), {count('machine-learning-model')}{' '}
                model component(s).
              </p>
              <DownloadButton label="Download the BOM" path={`${base}/bom`} filename={`${file}.cdx.json`} />
              <details>
                <summary>View the BOM</summary>
                <pre class="json" data-testid="bom-json">
                  {pretty(doc)}
                </pre>
              </details>
            </>
          );
        }}
      </Load>
    </>
  );
}
