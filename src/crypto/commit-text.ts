import { createHmac } from 'node:crypto'
import type { Hex } from 'viem'

/**
 * A commitment to free text (a purpose, a reason) for the ledger: keyed by the node's secret so
 * that short, guessable texts cannot be recovered from the chain by trying candidates.
 */
export function commitText(nodeKey: Uint8Array, id: Hex, text: string): Hex {
  return `0x${createHmac('sha256', nodeKey).update(`${id}|${text}`).digest('hex')}`
}
