// Retention and garbage collection. Versions past the retention age that never held a protected
// alias (and hold no alias now) are deleted, each deletion audited; evidence (retired or once
// protected versions) only when `evidenceDays` is set (see domain/retention.ts); then blobs that no version
// references are removed, unless they are younger than the grace period (an upload whose version
// is not registered yet), pinned by a registration in progress, or re-uploaded meanwhile.
import type { BlobGuard } from '../blobs/blob-guard.js';
import type { BlobStore } from '../blobs/blob-store.js';
import { DomainError } from '../domain/errors.js';
import type { ControlStore } from '../store/control-store.js';
import type { Actor, GcReport, Version } from '../domain/types.js';
import { evidenceReason, lastServed } from '../domain/retention.js';
import { reachableFrom } from './reachability.js';

export interface GcOptions {
  dryRun: boolean;
  retentionDays: number;
  /** Retired and once-protected versions may go this many days after they last served; 0 keeps them forever. */
  evidenceDays?: number;
  graceSeconds: number;
  actor: Actor;
  /** Keep the lineage parents of retained versions, as their components are always kept. */
  keepLineageParents?: boolean;
  now?: number;
}

export async function collectGarbage(store: ControlStore, blobs: BlobStore, guard: BlobGuard, opts: GcOptions): Promise<GcReport> {
  const now = opts.now ?? Date.now();
  const report: GcReport = {
    dryRun: opts.dryRun,
    versions: [],
    blobs: [],
    bytes: 0,
    kept: { young: 0, pinned: 0, referenced: 0, changed: 0 },
    keptVersions: [],
  };

  const doomed = new Set<string>();
  const evidenceDays = opts.evidenceDays ?? 0;
  if (opts.retentionDays > 0 || evidenceDays > 0) {
    const cutoff = opts.retentionDays > 0 ? now - opts.retentionDays * 86_400_000 : Number.NEGATIVE_INFINITY;
    const evidenceCutoff = now - evidenceDays * 86_400_000;
    const held = (v: Version) =>
      store
        .listAliases(v.name)
        .filter((a) => a.version === v.version)
        .map((a) => `@${a.alias}`);
    const served = (v: Version) => lastServed(v, store.modelAliasEvents(v.name), store.versionHistory(v.name, v.version));
    // Past retention: by registration age, or for evidence (when evidence may go at all) by when it last served.
    const pastRetention = (v: Version) =>
      evidenceDays > 0 && evidenceReason(v) !== null ? served(v) < evidenceCutoff : Date.parse(v.createdAt) < cutoff;
    const old = [...store.allVersions()].filter(pastRetention);
    const eligible = old.filter((v) => (evidenceDays > 0 || evidenceReason(v) === null) && held(v).length === 0);
    const keptAsEvidence = (v: Version) =>
      evidenceDays > 0
        ? `${evidenceReason(v)} (kept as evidence until ${evidenceDays} days after it last served)`
        : `${evidenceReason(v)} (kept as evidence)`;
    const reachable = reachableFrom(
      store,
      eligible,
      (v) => {
        const aliases = held(v);
        if (aliases.length > 0) return `holds ${aliases.join(', ')}`;
        if (evidenceReason(v) !== null) return keptAsEvidence(v);
        return `is younger than ${opts.retentionDays} days`;
      },
      opts.keepLineageParents ?? true,
    );
    // Why every version past retention is kept: its own standing, or what reaches it.
    for (const v of old) {
      const k = `${v.name}@v${v.version}`;
      const via = reachable.get(k);
      if (via) report.keptVersions.push(via);
      else if (!eligible.includes(v)) {
        const aliases = held(v);
        const reason = aliases.length > 0 ? `holds ${aliases.join(', ')}` : keptAsEvidence(v);
        report.keptVersions.push({ name: v.name, version: v.version, reason });
      }
    }
    // Stacks go before the versions they pin (registered earlier), so a doomed component is free when its turn comes.
    const candidates = eligible
      .filter((v) => !reachable.has(`${v.name}@v${v.version}`))
      .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
    for (const v of candidates) {
      if (!opts.dryRun) {
        const evidence = evidenceReason(v);
        const reason =
          evidence === null
            ? `retention: older than ${opts.retentionDays} days`
            : `retention: evidence (${evidence}) last served more than ${evidenceDays} days ago`;
        try {
          await store.deleteVersion(v.name, v.version, reason, opts.actor, evidence === null ? undefined : { evidence: true });
        } catch (err) {
          // Aliased or deleted since we looked: keep it.
          if (err instanceof DomainError) continue;
          throw err;
        }
      }
      doomed.add(`${v.name}@${v.version}`);
      report.versions.push({ name: v.name, version: v.version, createdAt: v.createdAt });
    }
  }

  const graceCutoff = now - opts.graceSeconds * 1000;
  for await (const blob of blobs.list()) {
    const refs = store.blobReferences(blob.digest);
    // A dry run has deleted nothing, so references from versions it would delete do not count.
    if (refs.some((r) => !doomed.has(`${r.name}@${r.version}`))) {
      report.kept.referenced++;
      continue;
    }
    if ((blob.modifiedAt ?? now) > graceCutoff) {
      report.kept.young++;
      continue;
    }
    if (opts.dryRun) {
      if (guard.isPinned(blob.digest)) report.kept.pinned++;
      else addBlob(report, blob);
      continue;
    }
    if (!guard.beginRemoval(blob.digest)) {
      report.kept.pinned++;
      continue;
    }
    try {
      // Checked again now that no registration can take it: one may have committed meanwhile.
      if (store.isBlobReferenced(blob.digest)) report.kept.referenced++;
      else if (await blobs.delete(blob.digest, graceCutoff)) addBlob(report, blob);
      else report.kept.changed++;
    } finally {
      guard.endRemoval(blob.digest);
    }
  }

  if (!opts.dryRun) {
    await store.appendAudit(
      'gc.run',
      'blobs',
      {
        versionsDeleted: report.versions.length,
        blobsDeleted: report.blobs.length,
        bytesFreed: report.bytes,
        blobs: report.blobs.slice(0, 1000).map((b) => b.digest),
      },
      opts.actor,
    );
  }
  return report;
}

function addBlob(report: GcReport, blob: { digest: string; size: number }): void {
  report.blobs.push({ digest: blob.digest, size: blob.size });
  report.bytes += blob.size;
}
