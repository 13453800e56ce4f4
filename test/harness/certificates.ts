// Certificate authorities and signing certificates made in the test with the openssl command line
// (node's crypto parses X.509 but cannot issue it): an ECDSA P-256 root, an optional intermediate,
// and leaf certificates naming an email or URI, with any validity window (`openssl ca` takes
// explicit start and end dates, so an expired certificate is as easy as a valid one). Signing uses
// @sigstore/sign's DSSE bundle builder with a signer that presents the leaf certificate.
import { execFileSync } from 'node:child_process';
import { createPrivateKey, type KeyObject, sign as cryptoSign } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleToJSON } from '@sigstore/bundle';
import { DSSEBundleBuilder, type Signer } from '@sigstore/sign';
import { IN_TOTO_PAYLOAD_TYPE } from '../../src/domain/model-signing.js';

export interface TestCa {
  name: string;
  dir: string;
  certFile: string;
  keyFile: string;
  certPem: string;
}

export interface TestLeaf {
  privateKey: KeyObject;
  certPem: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

const CA_EXTENSIONS = [
  '[ca_ext]',
  'basicConstraints = critical,CA:TRUE',
  'keyUsage = critical,keyCertSign,cRLSign',
  'subjectKeyIdentifier = hash',
  'authorityKeyIdentifier = keyid:always',
].join('\n');

function caConfig(dir: string, extensions: string): string {
  return [
    '[ca]',
    'default_ca = here',
    '[here]',
    `dir = ${dir}`,
    'database = $dir/index.txt',
    'new_certs_dir = $dir/issued',
    'serial = $dir/serial',
    'default_md = sha256',
    'policy = anything',
    'copy_extensions = none',
    'unique_subject = no',
    '[anything]',
    'commonName = supplied',
    extensions,
  ].join('\n');
}

function prepareCaDir(dir: string): void {
  mkdirSync(join(dir, 'issued'), { recursive: true });
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '1000\n');
}

/** A self-signed root CA in `root/<name>`. */
export function makeRootCa(root: string, name: string): TestCa {
  const dir = join(root, name);
  prepareCaDir(dir);
  writeFileSync(join(dir, 'ext.cnf'), `[req]\ndistinguished_name = dn\n[dn]\n${CA_EXTENSIONS}\n`);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key'], dir);
  openssl(
    [
      'req',
      '-x509',
      '-new',
      '-key',
      'ca.key',
      '-sha256',
      '-days',
      '3650',
      '-subj',
      `/CN=${name}`,
      '-config',
      'ext.cnf',
      '-extensions',
      'ca_ext',
      '-out',
      'ca.pem',
    ],
    dir,
  );
  return { name, dir, certFile: join(dir, 'ca.pem'), keyFile: join(dir, 'ca.key'), certPem: readFileSync(join(dir, 'ca.pem'), 'utf8') };
}

/** An intermediate CA signed by `parent`, in `root/<name>`. */
export function makeIntermediateCa(root: string, name: string, parent: TestCa): TestCa {
  const dir = join(root, name);
  prepareCaDir(dir);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key'], dir);
  openssl(['req', '-new', '-key', 'ca.key', '-subj', `/CN=${name}`, '-out', 'ca.csr'], dir);
  issue(parent, join(dir, 'ca.csr'), join(dir, 'ca.pem'), CA_EXTENSIONS, '20200101000000Z', '20991231000000Z');
  return { name, dir, certFile: join(dir, 'ca.pem'), keyFile: join(dir, 'ca.key'), certPem: readFileSync(join(dir, 'ca.pem'), 'utf8') };
}

function issue(ca: TestCa, csr: string, out: string, extensions: string, start: string, end: string): void {
  writeFileSync(join(ca.dir, 'ca.cnf'), caConfig(ca.dir, extensions));
  openssl(
    [
      'ca',
      '-batch',
      '-config',
      'ca.cnf',
      '-cert',
      'ca.pem',
      '-keyfile',
      'ca.key',
      '-in',
      csr,
      '-out',
      out,
      '-startdate',
      start,
      '-enddate',
      end,
      '-extensions',
      extensions.slice(1, extensions.indexOf(']')),
      '-notext',
    ],
    ca.dir,
  );
}

export interface LeafOptions {
  /** `email:someone@example.com` or `URI:https://…`, as openssl's subjectAltName takes it. */
  san: string;
  /** openssl ca dates, YYYYMMDDHHMMSSZ; by default from 2020 to 2099. */
  start?: string;
  end?: string;
  /** Extra extension lines, e.g. a Fulcio issuer: `1.3.6.1.4.1.57264.1.8 = ASN1:UTF8String:https://…`. */
  extra?: string[];
  /** keyUsage and extendedKeyUsage lines; by default a code-signing certificate. */
  usage?: string[];
}

let leaves = 0;

/** A signing certificate issued by `ca` for a fresh P-256 key. */
export function makeLeaf(ca: TestCa, options: LeafOptions): TestLeaf {
  const n = ++leaves;
  const keyFile = join(ca.dir, `leaf${n}.key`);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyFile], ca.dir);
  openssl(['req', '-new', '-key', keyFile, '-subj', `/CN=signer ${n}`, '-out', `leaf${n}.csr`], ca.dir);
  const extensions = [
    '[leaf]',
    'basicConstraints = critical,CA:FALSE',
    ...(options.usage ?? ['keyUsage = critical,digitalSignature', 'extendedKeyUsage = codeSigning']),
    `subjectAltName = ${options.san}`,
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid:always',
    ...(options.extra ?? []),
  ].join('\n');
  issue(
    ca,
    join(ca.dir, `leaf${n}.csr`),
    join(ca.dir, `leaf${n}.pem`),
    extensions,
    options.start ?? '20200101000000Z',
    options.end ?? '20991231000000Z',
  );
  // openssl ca writes the certificate's PEM after nothing else with -notext.
  return { privateKey: createPrivateKey(readFileSync(keyFile)), certPem: readFileSync(join(ca.dir, `leaf${n}.pem`), 'utf8') };
}

function certificateSigner(leaf: TestLeaf): Signer {
  return {
    sign: async (data: Buffer) => ({
      signature: cryptoSign('sha256', data, leaf.privateKey),
      key: { $case: 'x509Certificate', certificate: leaf.certPem },
    }),
  };
}

/**
 * A Sigstore bundle (JSON) signing `statement` with the leaf's key and presenting its certificate;
 * with `chain`, in the v0.2 form OpenSSF model signing writes (an x509CertificateChain), otherwise
 * the v0.3 form (one certificate).
 */
export async function signWithCertificate(leaf: TestLeaf, statement: Buffer, chain = false): Promise<any> {
  const bundle = await new DSSEBundleBuilder({ signer: certificateSigner(leaf), witnesses: [], certificateChain: chain }).create({
    data: statement,
    type: IN_TOTO_PAYLOAD_TYPE,
  });
  return bundleToJSON(bundle);
}
