// HTTPS on the service's own port (server.tls). uWebSockets.js takes the certificate and key as
// file names and, given a wrong or unreadable file, starts an app that fails every handshake
// without saying why; so both are read and checked here first (PEM that parses, a key that belongs
// to the certificate), and a bad pair stops the start with a message naming the file.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

/** Throws, naming the file and the problem, unless the pair can serve HTTPS. */
export function checkTlsFiles(files: TlsFiles): void {
  const read = (path: string, what: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`server.tls.${what} ${path} cannot be read: ${(err as Error).message}`);
    }
  };
  const certPem = read(files.certFile, 'certFile');
  const keyPem = read(files.keyFile, 'keyFile');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    throw new Error(`server.tls.certFile ${files.certFile} is not a PEM certificate: ${(err as Error).message}`);
  }
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new Error(`server.tls.keyFile ${files.keyFile} is not an unencrypted PEM private key: ${(err as Error).message}`);
  }
  if (!cert.checkPrivateKey(key)) {
    throw new Error(`server.tls.keyFile ${files.keyFile} is not the private key of the certificate in ${files.certFile}`);
  }
}

export function tlsEnabled(files: TlsFiles): boolean {
  return files.certFile !== '';
}
