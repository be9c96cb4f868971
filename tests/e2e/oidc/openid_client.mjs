// panva's openid-client (a certified relying party library) against Gatehouse.
// argv: issuer client_id client_secret redirect_uri. Prints the authorization
// URL, reads the callback URL a person reached from stdin, then prints one
// JSON line: the ID token's claims, UserInfo, and what a refresh returned.
import * as client from 'openid-client'
import * as jose from 'jose' // openid-client's own dependency, same author
import * as readline from 'node:readline/promises'

const [issuer, clientId, clientSecret, redirectUri] = process.argv.slice(2)
const config = await client.discovery(
  new URL(issuer),
  clientId,
  { client_secret: clientSecret, id_token_signed_response_alg: 'EdDSA' },
  client.ClientSecretBasic(clientSecret),
  { execute: [client.allowInsecureRequests] }, // http on loopback, in a test
)
const verifier = client.randomPKCECodeVerifier()
const nonce = client.randomNonce()
const state = client.randomState()
const url = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri,
  scope: 'openid profile email offline_access',
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
  nonce,
  state,
})
console.log(url.href)
const input = readline.createInterface({ input: process.stdin })
const callback = (await input[Symbol.asyncIterator]().next()).value
input.close()
const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
  pkceCodeVerifier: verifier,
  expectedNonce: nonce,
  expectedState: state,
  idTokenExpected: true,
})
const claims = tokens.claims()
// The signature, against the provider's published keys, checked explicitly.
const jwks = jose.createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri))
const verified = await jose.jwtVerify(tokens.id_token, jwks, {
  issuer, audience: clientId, algorithms: ['EdDSA'],
})
const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token)
console.log(JSON.stringify({
  claims,
  jwks_verified_sub: verified.payload.sub,
  userinfo,
  refreshed: {
    rotated: refreshed.refresh_token !== tokens.refresh_token,
    access_token: Boolean(refreshed.access_token),
    id_token_sub: refreshed.claims()?.sub,
  },
}))
