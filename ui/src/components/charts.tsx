// Charts drawn by uPlot (canvas): the alias timeline and metrics across versions. The data behind
// each chart is also given as a table, for screen readers and for copying.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { AliasEvent, Version } from '../types';
import { time } from '../format';

const PALETTE = ['#2f6fde', '#d9480f', '#2b8a3e', '#9c36b5', '#e67700', '#0b7285', '#c2255c', '#5c940d'];

function useUPlot(make: (el: HTMLElement, width: number) => uPlot | null, deps: unknown[]) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = ref.current!;
    const width = () => Math.max(260, el.clientWidth);
    const chart = make(el, width());
    if (!chart) return;
    const observer = new ResizeObserver(() => chart.setSize({ width: width(), height: chart.height }));
    observer.observe(el);
    return () => {
      observer.disconnect();
      chart.destroy();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return ref;
}

const dark = () => matchMedia('(prefers-color-scheme: dark)').matches;
function axis(extra: Partial<uPlot.Axis> = {}): uPlot.Axis {
  const ink = dark() ? '#c9d1d9' : '#333';
  return { stroke: ink, grid: { stroke: dark() ? '#30363d' : '#e5e5e5', width: 1 }, ticks: { stroke: ink, width: 1 }, ...extra };
}

/**
 * Which version each alias held over time, one stepped line per alias. Hovering shows, for the
 * time under the cursor, who put each alias where it was and why.
 */
export function AliasTimeline({ events, now }: { events: AliasEvent[]; now: number }) {
  const aliases = [...new Set(events.map((e) => e.alias))].sort();
  const xs = [...new Set([...events.map((e) => Date.parse(e.at) / 1000), now / 1000])].sort((a, b) => a - b);
  const inEffect = (alias: string, t: number): AliasEvent | undefined => {
    let found: AliasEvent | undefined;
    for (const e of events) if (e.alias === alias && Date.parse(e.at) / 1000 <= t) found = e;
    return found;
  };
  const series = aliases.map((alias) => xs.map((t) => inEffect(alias, t)?.to ?? null));
  const [hover, setHover] = useState<number | null>(null);
  const ref = useUPlot(
    (el, width) => {
      if (events.length === 0) return null;
      return new uPlot(
        {
          width,
          height: 220,
          scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.max(0, Math.floor(min) - 1), Math.ceil(max) + 1] } },
          axes: [axis(), axis({ label: 'version', values: (_u, ticks) => ticks.map((v) => (Number.isInteger(v) ? `v${v}` : '')) })],
          series: [
            {},
            ...aliases.map((alias, i) => ({
              label: alias,
              stroke: PALETTE[i % PALETTE.length],
              width: 2,
              paths: uPlot.paths.stepped!({ align: 1 }),
              points: { show: true, size: 6 },
            })),
          ],
          hooks: { setCursor: [(u: uPlot) => setHover(u.cursor.idx ?? null)] },
        },
        [xs, ...series] as uPlot.AlignedData,
        el,
      );
    },
    [JSON.stringify(events), now],
  );
  if (events.length === 0) return <p class="muted">No alias has pointed at a version of this model yet.</p>;
  const t = hover !== null ? xs[hover] : undefined;
  return (
    <figure class="chart">
      <div ref={ref} role="img" aria-label="Alias timeline: which version each alias held over time" />
      <figcaption aria-live="polite" class="hover">
        {t === undefined
          ? 'Hover the chart to see who moved each alias, and why.'
          : aliases.map((alias) => {
              const e = inEffect(alias, t);
              return e ? (
                <span key={alias} class="hover-item">
                  <strong>{alias}</strong> → {e.to === null ? 'deleted' : `v${e.to}`} by {e.actor.name} at {time(e.at)}
                  {e.reason ? ` — “${e.reason}”` : ''} ({e.action})
                </span>
              ) : null;
            })}
      </figcaption>
    </figure>
  );
}

/** Each metric's value across the model's versions. */
export function MetricsChart({ versions }: { versions: Version[] }) {
  const sorted = [...versions].sort((a, b) => a.version - b.version);
  const names = [...new Set(sorted.flatMap((v) => Object.keys(v.metrics ?? {})))].sort();
  const ref = useUPlot(
    (el, width) => {
      if (names.length === 0) return null;
      return new uPlot(
        {
          width,
          height: 220,
          scales: { x: { time: false } },
          axes: [axis({ label: 'version', values: (_u, ticks) => ticks.map((v) => (Number.isInteger(v) ? `v${v}` : '')) }), axis()],
          series: [
            { label: 'version', value: (_u, v) => (v === null ? '' : `v${v}`) },
            ...names.map((name, i) => ({
              label: name,
              stroke: PALETTE[i % PALETTE.length],
              width: 2,
              spanGaps: true,
              points: { show: true, size: 6 },
            })),
          ],
        },
        [sorted.map((v) => v.version), ...names.map((n) => sorted.map((v) => v.metrics?.[n]?.value ?? null))] as uPlot.AlignedData,
        el,
      );
    },
    [JSON.stringify(sorted.map((v) => [v.version, v.metrics]))],
  );
  if (names.length === 0) return <p class="muted">No version of this model has metrics.</p>;
  return (
    <figure class="chart">
      <div ref={ref} role="img" aria-label={`Metrics across versions: ${names.join(', ')}`} />
    </figure>
  );
}
