// The checkpoint keyring: the Ed25519 key this node signs with (if it has one) and the public keys
// of earlier signing keys, kept so checkpoints they signed still verify after a rotation. The
// private key lives in a file outside the data directory; see README "Signed checkpoints".
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { keyIdOf } from '../domain/checkpoint.js';

export interface PublishedKey {
  keyId: string;
  algorithm: 'Ed25519';
  /** SPKI PEM. */
  publicKey: string;
  /** `active`: this node signs with it; `retired`: kept so the checkpoints it signed still verify. */
  status: 'active' | 'retired';
}

export interface KeyringOptions {
  /** The private key file; absent or empty: this node signs nothing. */
  keyFile: string | null;
  /** Create the key file when it does not exist (a single node's first start). */
  generate: boolean;
  /** Public (or private) key PEM files of earlier signing keys. */
  retiredKeyFiles: readonly string[];
}

export class CheckpointKeyring {
  private constructor(
    /** The key this node signs with, or null when it has none. */
    readonly signingKey: KeyObject | null,
    readonly signingKeyId: string | null,
    private readonly keys: Map<string, { key: KeyObject; published: PublishedKey }>,
    /** Set when the key file was created by this start. */
    readonly generatedAt: string | null,
  ) {}

  static async load(options: KeyringOptions): Promise<CheckpointKeyring> {
    const keys = new Map<string, { key: KeyObject; published: PublishedKey }>();
    const add = (key: KeyObject, status: PublishedKey['status']) => {
      const id = keyIdOf(key);
      const publicKey = key.type === 'private' ? createPublicKey(key) : key;
      keys.set(id, {
        key: publicKey,
        published: { keyId: id, algorithm: 'Ed25519', publicKey: publicKey.export({ format: 'pem', type: 'spki' }).toString(), status },
      });
    };
    for (const file of options.retiredKeyFiles) add(ed25519(createPublicKey(await readFile(file, 'utf8')), file), 'retired');
    let signingKey: KeyObject | null = null;
    let generatedAt: string | null = null;
    if (options.keyFile) {
      const pem = await readKeyFile(options.keyFile);
      if (pem !== null) signingKey = ed25519(createPrivateKey(pem), options.keyFile);
      else if (options.generate) {
        signingKey = await generateKeyFile(options.keyFile);
        generatedAt = options.keyFile;
      }
    }
    if (signingKey) add(signingKey, 'active');
    return new CheckpointKeyring(signingKey, signingKey ? keyIdOf(signingKey) : null, keys, generatedAt);
  }

  /** Every key a checkpoint may name: the active one and the retired ones. */
  published(): PublishedKey[] {
    return [...this.keys.values()]
      .map((k) => k.published)
      .sort((a, b) => (a.status === b.status ? a.keyId.localeCompare(b.keyId) : a.status === 'active' ? -1 : 1));
  }

  publicKey(keyId: string): KeyObject | undefined {
    return this.keys.get(keyId)?.key;
  }
}

function ed25519(key: KeyObject, file: string): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519')
    throw new Error(`${file} holds a ${key.asymmetricKeyType} key; checkpoints are signed with Ed25519`);
  return key;
}

async function readKeyFile(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(
      `cannot read the audit checkpoint key ${file} (${(err as Error).message}): set checkpoints.keyFile (MODELGATE_CHECKPOINT_KEY_FILE) to a readable path outside the data directory`,
    );
  }
}

/** Creates the key file (owner-only) unless another process just did; either way returns the key in it. */
async function generateKeyFile(file: string): Promise<KeyObject> {
  const { privateKey } = generateKeyPairSync('ed25519');
  try {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' });
    return privateKey;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new Error(
        `cannot create the audit checkpoint key ${file} (${(err as Error).message}): set checkpoints.keyFile (MODELGATE_CHECKPOINT_KEY_FILE) to a writable path outside the data directory, or provide the key there`,
      );
    }
    return ed25519(createPrivateKey(await readFile(file, 'utf8')), file);
  }
}
