// What the OCI routes remember between requests. Manifest bytes are immutable (content-addressed),
// so caching them needs no invalidation; the per-model list of pushed manifests is dropped on any
// change to that model, on this node or (shared store) another.
import type { AppContext } from '../../app-context.js';
import { logger } from '../../../log.js';
import { generateManifest, type ManifestBytes } from '../../../oci/generate.js';
import type { ManifestRecord, Version } from '../../../domain/types.js';

class Lru<V> {
  private readonly entries = new Map<string, { value: V; weight: number }>();
  private total = 0;

  constructor(private readonly maxWeight: number) {}

  get(key: string): V | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    this.entries.delete(key);
    this.entries.set(key, hit);
    return hit.value;
  }

  set(key: string, value: V, weight = 1): void {
    if (weight > this.maxWeight) return;
    const old = this.entries.get(key);
    if (old) {
      this.total -= old.weight;
      this.entries.delete(key);
    }
    this.entries.set(key, { value, weight });
    this.total += weight;
    for (const [k, e] of this.entries) {
      if (this.total <= this.maxWeight) break;
      this.entries.delete(k);
      this.total -= e.weight;
    }
  }
}

const PAGE = 500;

export class OciState {
  private readonly pushedByModel = new Map<string, ManifestRecord[]>();
  private readonly manifestBytes = new Lru<Buffer>(64 * 1024 * 1024);
  private readonly generated = new Lru<ManifestBytes>(64 * 1024 * 1024);
  /** Per model: generated manifest (and config) digest → version, for every version up to `upTo`. */
  private readonly generatedIndex = new Map<string, { upTo: number; byDigest: Map<string, number>; byConfig: Map<string, number> }>();

  constructor(private readonly ctx: AppContext) {
    ctx.registry.onChange((change) => {
      if (change.model) this.pushedByModel.delete(change.model);
    });
  }

  /** Manifests clients pushed to this repository. */
  pushed(name: string): ManifestRecord[] {
    let list = this.pushedByModel.get(name);
    if (!list) {
      list = this.ctx.registry.listManifests(name);
      if (this.pushedByModel.size > 10_000) this.pushedByModel.clear();
      this.pushedByModel.set(name, list);
    }
    return list;
  }

  /**
   * The manifest a tag serves for a version: the one most recently pushed for it whose bytes are
   * still stored, else null (the caller generates one).
   */
  async pushedFor(name: string, version: number): Promise<{ record: ManifestRecord; bytes: Buffer } | null> {
    const candidates = this.pushed(name)
      .filter((m) => m.version === version)
      .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.digest < b.digest ? 1 : -1));
    for (const record of candidates) {
      const bytes = await this.bytesOf(record.digest);
      if (bytes) return { record, bytes };
      logger.warn({ name, digest: record.digest }, 'pushed manifest bytes are missing from blob storage; serving the generated manifest');
    }
    return null;
  }

  /** A stored manifest's bytes (null when the blob is gone). */
  async bytesOf(digest: string): Promise<Buffer | null> {
    const hit = this.manifestBytes.get(digest);
    if (hit) return hit;
    const reader = await this.ctx.blobs.open(digest);
    if (!reader) return null;
    try {
      const bytes = Buffer.alloc(reader.size);
      let at = 0;
      while (at < bytes.length) {
        const n = await reader.read(bytes, at, bytes.length - at, at);
        if (n <= 0) throw new Error(`manifest blob ${digest} ended after ${at} of ${bytes.length} bytes`);
        at += n;
      }
      this.manifestBytes.set(digest, bytes, bytes.length);
      return bytes;
    } finally {
      await reader.close();
    }
  }

  remember(digest: string, bytes: Buffer): void {
    this.manifestBytes.set(digest, bytes, bytes.length);
  }

  generatedFor(name: string, version: Version): ManifestBytes {
    const key = `${name}\0${version.version}\0${version.digest}`;
    let m = this.generated.get(key);
    if (!m) {
      // A stack's manifest has a layer per file of its closure, titled `<component>/<path>`.
      m = generateManifest({ ...version, files: this.ctx.registry.closureFiles(version) });
      this.generated.set(key, m, m.bytes.length);
    }
    return m;
  }

  /** The version whose generated manifest has this digest, if any. */
  versionForGenerated(name: string, digest: string): Version | null {
    return this.lookupGenerated(name, digest, 'byDigest');
  }

  /**
   * The bytes of a generated manifest's config (a ModelPack config is made with its manifest and
   * stored nowhere), if `digest` is one of a version of this model.
   */
  generatedConfig(name: string, digest: string): Buffer | null {
    const version = this.lookupGenerated(name, digest, 'byConfig');
    return version ? this.generatedFor(name, version).config.bytes : null;
  }

  private lookupGenerated(name: string, digest: string, by: 'byDigest' | 'byConfig'): Version | null {
    if (!this.ctx.registry.findModel(name)) return null;
    let index = this.generatedIndex.get(name);
    if (!index) {
      index = { upTo: 0, byDigest: new Map(), byConfig: new Map() };
      this.generatedIndex.set(name, index);
    }
    const lookup = (): Version | null => {
      const n = index![by].get(digest);
      if (n === undefined) return null;
      const v = this.ctx.registry.findVersion(name, n);
      if (!v) index![by].delete(digest); // deleted since
      return v ?? null;
    };
    const found = lookup();
    if (found) return found;
    // Versions registered since the index was last extended.
    for (;;) {
      const page = this.ctx.registry.listVersions(name, index.upTo, PAGE);
      for (const v of page.items) {
        const m = this.generatedFor(name, v);
        index.byDigest.set(m.digest, v.version);
        // The first layout's config is the shared empty JSON, served as such.
        if (v.ociLayout) index.byConfig.set(m.config.digest, v.version);
        index.upTo = Math.max(index.upTo, v.version);
      }
      if (!page.nextCursor) break;
    }
    return lookup();
  }
}
