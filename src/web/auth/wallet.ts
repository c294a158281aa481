// Sign-In with Ethereum (EIP-4361) through any EIP-1193 provider (MetaMask and the like).
import { getAddress, toHex } from 'viem'
import { createSiweMessage } from 'viem/siwe'
import { api, ApiError } from '../api/client.ts'
import type { NodeStatus } from '../api/types.ts'

/** The EIP-1193 provider interface, as far as the portal needs it. */
export interface Eip1193Provider {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>
}

declare global {
  interface Window { ethereum?: Eip1193Provider }
}

/** The injected wallet, if the browser has one. */
export function walletProvider(): Eip1193Provider | undefined {
  return typeof window !== 'undefined' && window.ethereum && typeof window.ethereum.request === 'function' ? window.ethereum : undefined
}

export interface SignedSiwe { message: string; signature: string; address: string }

/**
 * The node names the one site its wallet sign-in accepts (its --public-url, or the address it
 * listens on); a page opened under another name (a different host name, port or scheme) would
 * only have its message refused, so say where to go instead, before the wallet is asked.
 * @throws ApiError SIWE_DOMAIN_MISMATCH
 */
function checkSite(site: { domain: string; uri: string }): void {
  if (site.domain === '') {
    throw new ApiError('SIWE_DOMAIN_MISMATCH', 'Wallet sign-in is off on this node: it has no public address. Its operator sets one with --public-url. Sign in with your e-mail and password.', 0)
  }
  if (site.domain.toLowerCase() !== location.host.toLowerCase() || site.uri !== location.origin) {
    throw new ApiError('SIWE_DOMAIN_MISMATCH', `Wallet sign-in works only at this node's own address, ${site.uri}. This page was opened as ${location.origin}: open ${site.uri} and sign in with your wallet there, or sign in here with your e-mail and password.`, 0)
  }
}

/**
 * Asks the wallet for an account and signs an EIP-4361 message for this site, with a fresh
 * nonce from the node and the chain id of the node's ledger.
 * @throws ApiError NO_WALLET, WALLET_REFUSED, SIWE_DOMAIN_MISMATCH (the page is not at the
 *   node's address), or the node's refusal
 */
export async function signSiweMessage({ statement }: { statement: string }): Promise<SignedSiwe> {
  const provider = walletProvider()
  if (!provider) throw new ApiError('NO_WALLET', 'No wallet was found in this browser. Install a wallet extension such as MetaMask, or sign in with your e-mail and password.', 0)
  const [{ chainId }, site] = await Promise.all([
    api<NodeStatus>('/status', { anonymous: true }),
    api<{ nonce: string; domain: string; uri: string }>('/auth/siwe/nonce', { method: 'POST', anonymous: true }),
  ])
  checkSite(site)
  let accounts: unknown
  try {
    accounts = await provider.request({ method: 'eth_requestAccounts' })
  } catch (err) {
    throw walletRefusal(err)
  }
  if (!Array.isArray(accounts) || typeof accounts[0] !== 'string') throw new ApiError('WALLET_REFUSED', 'The wallet did not share an account.', 0)
  const address = getAddress(accounts[0])
  const issuedAt = new Date()
  const message = createSiweMessage({
    address,
    chainId,
    domain: location.host,
    uri: location.origin,
    nonce: site.nonce,
    version: '1',
    issuedAt,
    expirationTime: new Date(issuedAt.getTime() + 5 * 60_000),
    statement,
  })
  let signature: unknown
  try {
    signature = await provider.request({ method: 'personal_sign', params: [toHex(message), address] })
  } catch (err) {
    throw walletRefusal(err)
  }
  if (typeof signature !== 'string') throw new ApiError('WALLET_REFUSED', 'The wallet did not return a signature.', 0)
  return { message, signature, address }
}

function walletRefusal(err: unknown): ApiError {
  const e = err as { code?: number; message?: string }
  if (e?.code === 4001) return new ApiError('WALLET_REFUSED', 'The request was declined in the wallet.', 0)
  return new ApiError('WALLET_REFUSED', `The wallet could not sign in${e?.message ? `: ${e.message}` : '.'}`, 0)
}
