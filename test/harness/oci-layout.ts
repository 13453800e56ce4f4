// An OCI image layout on disk for skopeo to copy from.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256 } from './http.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

export interface Layout {
  dir: string;
  manifestDigest: string;
  files: Record<string, Buffer>;
}

/**
 * Writes an OCI image layout (image-spec image-layout.md): oci-layout, index.json naming the
 * manifest by `tag`, and blobs/sha256/<hex> for the manifest, the empty config and one layer per
 * file with its path as the title annotation.
 */
export async function writeLayout(dir: string, tag: string, files: Record<string, Buffer>): Promise<Layout> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = async (bytes: Buffer) => {
    const digest = sha256(bytes);
    await writeFile(join(dir, 'blobs', 'sha256', digest.slice(7)), bytes);
    return digest;
  };
  const config = Buffer.from('{}');
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: 'application/vnd.example.ml-model.v1',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: await put(config), size: config.length },
    layers: [] as unknown[],
    annotations: { 'org.opencontainers.image.description': 'a model copied by skopeo' },
  };
  for (const [path, bytes] of Object.entries(files)) {
    manifest.layers.push({
      mediaType: path.endsWith('.json') ? 'application/json' : 'application/octet-stream',
      digest: await put(bytes),
      size: bytes.length,
      annotations: { 'org.opencontainers.image.title': path },
    });
  }
  const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2));
  const manifestDigest = await put(manifestBytes);
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: OCI_MANIFEST,
          digest: manifestDigest,
          size: manifestBytes.length,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  return { dir, manifestDigest, files };
}
