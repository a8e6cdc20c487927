// The official Open Payments client (@interledger/open-payments, response validation ON)
// against centime on loopback. Config as JSON in argv[2]; for the consent step it prints
// {"redirect": ...} and reads the interact_ref (one line) from stdin. Prints one JSON line
// per step; exits 1 on the first unexpected error.
import { createAuthenticatedClient } from '@interledger/open-payments'
import { createInterface } from 'node:readline'
import { createHash } from 'node:crypto'

const config = JSON.parse(process.argv[2])
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
const say = (step, data) => console.log(JSON.stringify({ step, ...data }))
const usd = (value) => ({ value: String(value), assetCode: 'USD', assetScale: 6 })

const client = await createAuthenticatedClient({
  walletAddressUrl: config.client, keyId: config.keyId, privateKey: config.keyPath,
  useHttp: true, validateResponses: true
})
const shop = await client.walletAddress.get({ url: config.client })
const payer = await client.walletAddress.get({ url: config.payer })
say('wallet', { shop, payer })
const incomingGrant = await client.grant.request({ url: shop.authServer }, {
  access_token: { access: [{ type: 'incoming-payment', actions: ['create', 'read', 'complete'], identifier: shop.id }] }
})
const incoming = await client.incomingPayment.create(
  { url: shop.resourceServer, accessToken: incomingGrant.access_token.value },
  { walletAddress: shop.id, incomingAmount: usd(2000000), metadata: { order: '42' } })
say('incoming', { incoming })
const quoteGrant = await client.grant.request({ url: payer.authServer }, {
  access_token: { access: [{ type: 'quote', actions: ['create', 'read'] }] }
})
const quote = await client.quote.create(
  { url: payer.resourceServer, accessToken: quoteGrant.access_token.value },
  { walletAddress: payer.id, receiver: incoming.id, method: 'ilp' })
say('quote', { quote })
const nonce = 'client-nonce-' + Date.now()
const pending = await client.grant.request({ url: payer.authServer }, {
  access_token: { access: [{ type: 'outgoing-payment', actions: ['create', 'read'], identifier: payer.id,
    limits: { debitAmount: usd(2500000) } }] },
  interact: { start: ['redirect'], finish: { method: 'redirect', uri: 'http://shop.invalid/back', nonce } }
})
say('interact', { redirect: pending.interact.redirect })
const back = JSON.parse((await lines.next()).value)
const expected = createHash('sha-256')
  .update(`${nonce}\n${pending.interact.finish}\n${back.interact_ref}\n${payer.authServer}`).digest('base64')
if (expected !== back.hash) throw new Error('interaction hash mismatch')
const granted = await client.grant.continue(
  { url: pending.continue.uri, accessToken: pending.continue.access_token.value },
  { interact_ref: back.interact_ref })
const token = granted.access_token
const paid = await client.outgoingPayment.create(
  { url: payer.resourceServer, accessToken: token.value }, { walletAddress: payer.id, quoteId: quote.id })
say('paid', { paid })
const publicView = await client.incomingPayment.getPublic({ url: incoming.id })
say('public', { publicView })
const rotated = await client.token.rotate({ url: token.manage, accessToken: token.value })
say('rotated', { manage: rotated.access_token.manage })
const second = await client.incomingPayment.create(
  { url: shop.resourceServer, accessToken: incomingGrant.access_token.value },
  { walletAddress: shop.id, incomingAmount: usd(1000000) })
let refused = null
try {
  await client.outgoingPayment.create({ url: payer.resourceServer, accessToken: rotated.access_token.value },
    { walletAddress: payer.id, incomingPayment: second.id, debitAmount: usd(600000) })
} catch (error) { refused = { status: error.status, code: error.code, validationErrors: error.validationErrors } }
say('over_limit', { refused })
await client.token.revoke({ url: rotated.access_token.manage, accessToken: rotated.access_token.value })
let afterRevoke = null
try {
  await client.outgoingPayment.get({ url: paid.id, accessToken: rotated.access_token.value })
} catch (error) { afterRevoke = { status: error.status } }
say('revoked', { afterRevoke })
process.exit(0)
