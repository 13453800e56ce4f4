// Evidence exports: a version's CycloneDX ML-BOM and the model inventory, assembled from the
// registry's state (the formats themselves are pure, in domain/bom.ts and domain/inventory.ts).
import { readFileSync } from 'node:fs';
import { buildBom } from '../domain/bom.js';
import { notFound } from '../domain/errors.js';
import { inventoryRow, type InventoryRow } from '../domain/inventory.js';
import type { AliasPolicy } from '../domain/policy.js';
import type { RegistryReader } from '../domain/state.js';
import type { Model, Version } from '../domain/types.js';

const PAGE = 500;

let toolVersion: string | undefined;
/** The modelgate version that writes the BOM (package.json sits three levels above dist/src/registry/). */
function tool(): { name: string; version: string } {
  toolVersion ??= (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return { name: 'modelgate', version: toolVersion };
}

export class Evidence {
  constructor(
    private readonly store: RegistryReader,
    private readonly policies: Record<string, AliasPolicy>,
  ) {}

  /** The CycloneDX 1.6 BOM of a version. */
  bom(name: string, number: number, now = new Date()): Record<string, unknown> {
    const model = this.store.getModel(name);
    if (!model) throw notFound('MODEL_NOT_FOUND', `model "${name}" does not exist`);
    const version = this.store.getVersion(name, number);
    if (!version) throw notFound('VERSION_NOT_FOUND', `model "${name}" has no version ${number}`);
    return buildBom({
      model,
      version,
      aliases: this.store.listAliases(name).filter((a) => a.version === number),
      approvals: this.store.listApprovals(name, number),
      signatures: this.store.listSignatures(name, number),
      components: Object.entries(version.components ?? {}).map(([role, pin]) => ({
        role,
        pin,
        version: this.store.getVersion(pin.name, pin.version),
      })),
      tool: tool(),
      now,
    });
  }

  /** One row per model `visible` accepts (optionally under `prefix`), in name order. */
  inventory(visible: (name: string) => boolean, prefix?: string): InventoryRow[] {
    const rows: InventoryRow[] = [];
    let cursor: string | undefined;
    do {
      const page = this.store.listModels({ prefix, cursor, limit: PAGE, filter: (m) => visible(m.name) });
      for (const model of page.items) rows.push(this.row(model));
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    return rows;
  }

  private row(model: Model): InventoryRow {
    const versions: Version[] = [];
    let cursor: number | undefined;
    for (;;) {
      const page = this.store.listVersions(model.name, cursor, PAGE);
      versions.push(...page.items);
      if (!page.nextCursor) break;
      cursor = Number(page.nextCursor);
    }
    return inventoryRow(
      {
        model,
        versions,
        aliases: this.store.listAliases(model.name),
        approvals: (n) => this.store.listApprovals(model.name, n),
        signatures: (n) => this.store.listSignatures(model.name, n).length,
        aliasEvents: this.store.modelAliasEvents(model.name),
        versionEvents: (n) => this.store.versionHistory(model.name, n),
      },
      this.policies,
    );
  }
}
