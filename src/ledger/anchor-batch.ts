import {
  concat,
  encodeAbiParameters,
  encodeFunctionData,
  keccak256,
  type Address,
  type Hex,
  type LocalAccount,
  type TransactionReceipt,
} from 'viem'
import { recordLedgerAbi, registryAbi } from './abis.ts'
import { AppError } from '../errors.ts'
import { readContract } from './read-contract.ts'
import { sendTransaction } from './send-transaction.ts'
import type { AnchorFields } from './check-anchor.ts'
import type { Ledger } from './connect-ledger.ts'

/** A record as a batch leaf names it (the contract's `Leaf`): the fields `anchor` takes. */
export type LeafFields = AnchorFields

/** A leaf with its author's EIP-712 signature over (recordId, patient, hospital, digest, envelopes). */
export interface SignedLeaf extends LeafFields {
  signature: Hex
}

/** The EIP-712 typed data an author signs for a record (the contract's `recordTypedDataHash`). */
export function recordTypedData(ledger: Pick<Ledger, 'chainId' | 'contracts'>, f: Omit<LeafFields, 'author'>) {
  return {
    domain: { name: 'RecordLedger', version: '1', chainId: ledger.chainId, verifyingContract: ledger.contracts.recordLedger },
    types: {
      Record: [
        { name: 'recordId', type: 'bytes32' },
        { name: 'patient', type: 'address' },
        { name: 'hospital', type: 'address' },
        { name: 'digest', type: 'bytes32' },
        { name: 'envelopes', type: 'bytes32' },
      ],
    },
    primaryType: 'Record',
    message: { recordId: f.recordId, patient: f.patient, hospital: f.hospital, digest: f.digest, envelopes: f.envelopes },
  } as const
}

/** Signs a record's fields with its author's own key (EIP-712, domain RecordLedger on this chain and contract). */
export async function signLeaf(ledger: Pick<Ledger, 'chainId' | 'contracts'>, author: LocalAccount, f: Omit<LeafFields, 'author'>): Promise<SignedLeaf> {
  if (!author.signTypedData) throw new Error('the author account cannot sign typed data')
  const signature = await author.signTypedData(recordTypedData(ledger, f))
  return { ...f, author: author.address, signature }
}

/** The Merkle leaf (double-hashed, as OpenZeppelin's StandardMerkleTree): the contract's `leafHash`. */
export function leafHash(l: SignedLeaf): Hex {
  return keccak256(keccak256(encodeAbiParameters(
    [{ type: 'bytes32' }, { type: 'address' }, { type: 'address' }, { type: 'address' }, { type: 'bytes32' }, { type: 'bytes32' }, { type: 'bytes32' }],
    [l.recordId, l.patient, l.author, l.hospital, l.digest, l.envelopes, keccak256(l.signature)],
  )))
}

/** OpenZeppelin's commutative Keccak-256 of a pair: the smaller word first. */
function hashPair(a: Hex, b: Hex): Hex {
  return BigInt(a) < BigInt(b) ? keccak256(concat([a, b])) : keccak256(concat([b, a]))
}

/**
 * The Merkle tree of `leaves` (sorted-pair Keccak, `MerkleProof.verify` compatible): pairs are
 * hashed level by level, an odd last node is carried up. Returns the root and, per leaf in the
 * given order, its proof (sibling hashes from the leaf up).
 */
export function merkleTree(leaves: readonly Hex[]): { root: Hex; proofs: Hex[][] } {
  if (leaves.length === 0) throw new RangeError('a Merkle tree needs at least one leaf')
  const proofs: Hex[][] = leaves.map(() => [])
  // Which leaves sit under each node of the current level.
  let level = leaves.map((hash, i) => ({ hash, under: [i] }))
  while (level.length > 1) {
    const next: typeof level = []
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i]!
      const right = level[i + 1]
      if (!right) {
        next.push(left)
        continue
      }
      for (const j of left.under) proofs[j]!.push(right.hash)
      for (const j of right.under) proofs[j]!.push(left.hash)
      next.push({ hash: hashPair(left.hash, right.hash), under: [...left.under, ...right.under] })
    }
    level = next
  }
  return { root: level[0]!.hash, proofs }
}

/** Folds `proof` up from `leaf`: equals the root when the proof holds (OpenZeppelin's `processProof`). */
export function processProof(leaf: Hex, proof: readonly Hex[]): Hex {
  return proof.reduce<Hex>((node, sibling) => hashPair(node, sibling), leaf)
}

/**
 * Anchors a batch root from a member hospital's account and waits until it is mined.
 * @throws AppError LEDGER_REVERTED (`RecordLedgerNotMember`, `RecordLedgerRootExists`, …), LEDGER_UNAVAILABLE
 */
export function anchorBatch(
  ledger: Ledger,
  p: { hospital: LocalAccount; root: Hex; manifest: Hex; count: number; signal?: AbortSignal },
): Promise<TransactionReceipt> {
  const data = encodeFunctionData({ abi: recordLedgerAbi, functionName: 'anchorBatch', args: [p.root, p.manifest, BigInt(p.count)] })
  return sendTransaction(ledger, { account: p.hospital, to: ledger.contracts.recordLedger, data, purpose: 'anchor-batch', ref: p.root, abi: recordLedgerAbi, signal: p.signal })
}

/**
 * Asks the chain to check a leaf, its proof, its root and its signature (`checkLeaf`), at the
 * latest block or at `blockNumber`.
 * @throws AppError LEDGER_REVERTED naming why it does not hold (`RecordLedgerInvalidProof`, …), LEDGER_UNAVAILABLE
 */
export async function checkLeaf(ledger: Pick<Ledger, 'client' | 'contracts'>, p: { root: Hex; proof: readonly Hex[]; leaf: SignedLeaf; blockNumber?: bigint }): Promise<void> {
  const { signature, ...fields } = p.leaf
  await readContract(ledger, {
    address: ledger.contracts.recordLedger,
    abi: recordLedgerAbi,
    functionName: 'checkLeaf',
    args: [p.root, p.proof, fields, signature],
    ...(p.blockNumber === undefined ? {} : { blockNumber: p.blockNumber }),
  })
}

const DOCTOR = 2
const PATIENT = 3
const ACTIVE = 2

/**
 * What `anchor` would refuse a record for, asked before it joins a batch (whose transaction
 * checks no leaf): the author an active doctor and the patient an active patient of the leaf's
 * hospital, as `checkLeaf` checks them too (at the latest block or at `blockNumber`). Resolves
 * undefined when both hold, else the refusal as `anchor`'s revert would be.
 * @throws AppError LEDGER_UNAVAILABLE
 */
export async function partiesRefusal(ledger: Pick<Ledger, 'client' | 'contracts'>, leaf: Pick<LeafFields, 'author' | 'patient' | 'hospital'>, blockNumber?: bigint): Promise<AppError | undefined> {
  const [author, patient] = await readContract(ledger, { address: ledger.contracts.registry, abi: registryAbi, functionName: 'accountsOf', args: [leaf.author, leaf.patient], ...(blockNumber === undefined ? {} : { blockNumber }) })
  const same = (a: Address) => a.toLowerCase() === leaf.hospital.toLowerCase()
  const refusal = (errorName: string, arg: Address) =>
    Object.assign(new AppError('LEDGER_REVERTED', { details: `${errorName}(${arg})` }), { revert: { errorName, args: [arg] } })
  if (author.role !== DOCTOR || author.status !== ACTIVE || !same(author.hospital)) return refusal('RecordLedgerUnauthorized', leaf.author)
  if (patient.role !== PATIENT || patient.status !== ACTIVE || !same(patient.hospital)) return refusal('RecordLedgerUnknownPatient', leaf.patient)
  return undefined
}
