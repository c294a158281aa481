import {
  BaseError,
  ContractFunctionRevertedError,
  decodeErrorResult,
  keccak256,
  type Abi,
  type Address,
  type Hex,
  type LocalAccount,
  type TransactionReceipt,
} from 'viem'
import { AppError } from '../errors.ts'
import type { Ledger } from './connect-ledger.ts'
import type { Db } from '../db/db.ts'

export interface SendTransactionParams {
  account: LocalAccount
  /** Omitted for a contract deployment. */
  to?: Address
  data: Hex
  /** A short label kept in the journal: `deploy`, `anchor`, `register`, … */
  purpose: string
  /** What the transaction is about (a record id, an address): lets recovery finish the work. */
  ref?: string
  /** ABI used to decode a revert into its custom error. */
  abi?: Abi
  signal?: AbortSignal
  /**
   * Writes the journal row's `mined` state together with the caller's own record of the outcome,
   * instead of alone: given the journal's statement, it must write it (on SQLite, statements
   * issued together share one group commit: one fsync instead of one each). It may write it later
   * than at once — the row says `sent` meanwhile, which a restart settles from the chain.
   * The receipt is returned once it has. A reverted transaction's row is written alone.
   */
  settle?: (journal: Statement, receipt: TransactionReceipt) => Promise<void>
}

/** One SQL statement and its parameters, not yet run. */
export interface Statement { sql: string; params: unknown[] }

/**
 * Signs a transaction with the acting account's own key, writes it to the journal, broadcasts
 * it and waits for its receipt.
 * @throws AppError LEDGER_REVERTED (with the decoded custom error in `details`) when the chain
 * refuses it — before anything is journaled when the refusal shows at estimation, which is
 * the usual case; LEDGER_UNAVAILABLE when the chain cannot be reached.
 */
export async function sendTransaction(ledger: Ledger, params: SendTransactionParams): Promise<TransactionReceipt> {
  // One queue per sender, the node's own (`ledger.senderQueues`): nonces are taken and
  // journaled in order even when requests overlap.
  const { senderQueues } = ledger
  const key = `${ledger.chainId}:${params.account.address.toLowerCase()}`
  const previous = senderQueues.get(key) ?? Promise.resolve()
  const signed = previous.catch(() => undefined).then(() => signAndJournal(ledger, params))
  senderQueues.set(key, signed)
  try {
    const { hash, id } = await signed
    return await waitForJournaled(ledger, { hash, id, abi: params.abi, signal: params.signal, settle: params.settle })
  } finally {
    if (senderQueues.get(key) === signed) senderQueues.delete(key)
  }
}

async function signAndJournal(ledger: Ledger, { account, to, data, purpose, ref, abi, signal }: SendTransactionParams): Promise<{ hash: Hex; id: number }> {
  signal?.throwIfAborted()
  const { client, db, chainId } = ledger
  let gas: bigint
  let fees: { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }
  try {
    gas = await client.estimateGas({ account: account.address, to, data })
    const gasPrice = await client.getGasPrice()
    // A consortium chain charges nothing; elsewhere use the chain's own fee estimate.
    fees = gasPrice === 0n ? { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n } : await client.estimateFeesPerGas()
  } catch (cause) {
    throw toLedgerError(cause, abi)
  }
  // Headroom over the estimate: state can move between estimation and inclusion.
  const gasLimit = (gas * 12n) / 10n + 5_000n
  const sender = account.address.toLowerCase()
  // The nonce is the next after both the chain's pending count and this hospital's journal, taken
  // and journaled under the database's lock when several processes share it (PostgreSQL), so
  // two API processes acting for one account never sign the same nonce.
  const allocate = <T>(fn: (tx: typeof db) => Promise<T>): Promise<T> => db.dialect === 'postgres' ? db.transaction(fn) : fn(db)
  const { hash, id, raw } = await allocate(async (tx) => {
    let nonce: number
    try {
      nonce = await client.getTransactionCount({ address: account.address, blockTag: 'pending' })
    } catch (cause) {
      throw toLedgerError(cause, abi)
    }
    const journaled = await tx.get<{ n: number | null }>(`SELECT MAX(nonce) AS n FROM journal WHERE chain_id = ? AND sender = ? AND state = 'sent'`, chainId, sender)
    if (journaled?.n !== null && journaled?.n !== undefined) nonce = Math.max(nonce, Number(journaled.n) + 1)
    const raw = await account.signTransaction({ chainId, type: 'eip1559', nonce, gas: gasLimit, to, data, ...fees })
    const hash = keccak256(raw)
    // The row is committed (fsynced) before the transaction leaves the node: a crash after this
    // point is recovered by re-broadcasting the same signed bytes.
    const { id } = await journalRow(tx, [chainId, sender, nonce, hash, raw, purpose, ref ?? null, Date.now()])
    return { hash, id, raw }
  })
  try {
    await client.sendRawTransaction({ serializedTransaction: raw })
  } catch (cause) {
    if (!isAlreadyKnown(cause)) {
      await db.run('DELETE FROM journal WHERE id = ?', id)
      throw toLedgerError(cause, abi)
    }
  }
  return { hash, id }
}

/**
 * Writes a signed transaction's journal row (`values` in the columns' order below) and resolves
 * its id once the row is durable. Inside PostgreSQL's transaction, `RETURNING id`. On SQLite a
 * single statement, so that its commit (an fsync, ~1–4 ms on a busy disk) is group-committed on
 * the commit thread instead of blocking the event loop as a `get` on the main connection would;
 * the id is then read back by the transaction's hash (unique).
 */
async function journalRow(db: Db, values: readonly unknown[]): Promise<{ id: number }> {
  const insert = `INSERT INTO journal (chain_id, sender, nonce, tx_hash, raw, purpose, ref, state, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, 'sent', ?)`
  if (db.dialect === 'postgres') return await db.get(`${insert} RETURNING id`, ...values) as { id: number }
  await db.run(insert, ...values)
  const row = await db.get<{ id: number }>('SELECT id FROM journal WHERE tx_hash = ?', values[3])
  if (!row) throw new Error('the journal row just written was not found')
  return row
}

/**
 * Waits for the receipt of a journaled transaction and records the outcome in the journal (through
 * the caller's `settle` when it was mined and one is given).
 * @throws AppError LEDGER_REVERTED when it was mined but reverted.
 */
export async function waitForJournaled(ledger: Ledger, { hash, id, signal, settle }: Pick<SendTransactionParams, 'abi' | 'signal' | 'settle'> & { hash: Hex; id: number }): Promise<TransactionReceipt> {
  let receipt: TransactionReceipt
  try {
    receipt = await ledger.client.waitForTransactionReceipt({ hash, timeout: 120_000, pollingInterval: 50 })
  } catch (cause) {
    throw new AppError('LEDGER_UNAVAILABLE', { cause, details: `no receipt for ${hash}` })
  }
  signal?.throwIfAborted()
  const state = receipt.status === 'success' ? 'mined' : 'reverted'
  const journal: Statement = { sql: 'UPDATE journal SET state = ?, block_number = ? WHERE id = ?', params: [state, Number(receipt.blockNumber), id] }
  if (state === 'mined' && settle) await settle(journal, receipt)
  else await ledger.db.run(journal.sql, ...journal.params)
  if (state === 'reverted') {
    throw new AppError('LEDGER_REVERTED', { details: `transaction ${hash} reverted when mined` })
  }
  return receipt
}

function isAlreadyKnown(err: unknown): boolean {
  const text = err instanceof BaseError ? err.details ?? err.shortMessage : String(err)
  return /already known|already imported|known transaction/i.test(text ?? '')
}

/** Turns a viem failure into an AppError, naming the contract's custom error when there is one. */
export function toLedgerError(err: unknown, abi?: Abi): AppError {
  if (err instanceof AppError) return err
  if (err instanceof BaseError) {
    const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError) as ContractFunctionRevertedError | null
    if (reverted?.data?.errorName) return revertError(reverted.data.errorName, reverted.data.args, err)
    const rawData = findRevertData(err)
    if (rawData && abi) {
      try {
        const decoded = decodeErrorResult({ abi, data: rawData })
        return revertError(decoded.errorName, decoded.args, err)
      } catch {
        // fall through: an error this ABI does not know
      }
    }
    if (rawData || /revert/i.test(err.details ?? err.shortMessage)) {
      return new AppError('LEDGER_REVERTED', { cause: err, details: err.shortMessage })
    }
    if (/insufficient funds|exceeds the balance/i.test(`${err.shortMessage} ${err.details ?? ''}`)) {
      return new AppError('LEDGER_UNFUNDED', { cause: err, details: err.shortMessage })
    }
    if (/fetch failed|ECONNREFUSED|timed out|HTTP request failed/i.test(`${err.shortMessage} ${err.details ?? ''}`)) {
      return new AppError('LEDGER_UNAVAILABLE', { cause: err, details: err.shortMessage })
    }
  }
  return new AppError('LEDGER_UNAVAILABLE', { cause: err, details: err instanceof Error ? err.message : String(err) })
}

function revertError(errorName: string, args: readonly unknown[] | undefined, cause: unknown): AppError {
  const e = new AppError('LEDGER_REVERTED', { cause, details: `${errorName}(${(args ?? []).map(String).join(', ')})` })
  return Object.assign(e, { revert: { errorName, args: args ?? [] } })
}

function findRevertData(err: BaseError): Hex | undefined {
  let found: Hex | undefined
  err.walk((e) => {
    const data = (e as { data?: unknown }).data
    if (typeof data === 'string' && data.startsWith('0x') && data.length >= 10) found = data as Hex
    return false
  })
  return found
}
