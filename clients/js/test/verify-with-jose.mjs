// Used by tests/signing/test_jose.py (not by `npm test`): verify an access token the way a
// downstream Node service would, with jose and nothing but the client's JWKS URL and issuer.
//   node test/verify-with-jose.mjs <jwks-url> <issuer> <token> [<other-jwks-json-file>]
// Prints {"remote": {...claims} | {"error"}, "other": {"error"} | {...}} as JSON.
import { readFileSync } from "node:fs";
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify } from "jose";

const [jwksUrl, issuer, token, otherFile] = process.argv.slice(2);

async function attempt(keySet) {
  try {
    const { payload, protectedHeader } = await jwtVerify(token, keySet, { issuer });
    return { payload, protectedHeader };
  } catch (error) {
    return { error: error.code ?? String(error) };
  }
}

const result = { remote: await attempt(createRemoteJWKSet(new URL(jwksUrl))) };
if (otherFile) {
  result.other = await attempt(createLocalJWKSet(JSON.parse(readFileSync(otherFile, "utf8"))));
}
console.log(JSON.stringify(result));
