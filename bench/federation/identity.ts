// A stand-in for the identity subgraph: a JWKS endpoint and an access token signed as identity
// signs them (ES256, issuer mindweave-identity, audience mindweave), which the router verifies.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

export async function startIdentity(port: number) {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const kid = randomUUID();
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] });
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid })
    .setIssuer('mindweave-identity')
    .setAudience('mindweave')
    .setSubject(randomUUID())
    .setIssuedAt()
    .setExpirationTime('6h')
    .sign(privateKey);
  const server = createServer((req, res) => {
    if (req.url !== '/.well-known/jwks.json') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    token,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
