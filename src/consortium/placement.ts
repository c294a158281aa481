import { createHash } from 'node:crypto'

/**
 * Rendezvous (highest-random-weight) hashing: every node ranks the member nodes for a record by
 * SHA-256(recordId | nodeId) and takes the top R, so all nodes agree on who keeps a record
 * without a coordinator, and a member joining or leaving moves only the records it wins or held.
 */
export function rankNodes(recordId: string, nodeIds: readonly string[]): string[] {
  const scored = [...new Set(nodeIds)].map((id) => ({
    id,
    score: createHash('sha256').update(`${recordId.toLowerCase()}|${id}`).digest('hex'),
  }))
  scored.sort((a, b) => (a.score < b.score ? 1 : a.score > b.score ? -1 : 0))
  return scored.map((s) => s.id)
}

/**
 * The nodes that keep a replica of `recordId` besides its home node: the `replicas` highest
 * ranked member nodes other than `home` (fewer when the consortium is smaller).
 */
export function replicaNodes(recordId: string, home: string | undefined, nodeIds: readonly string[], replicas: number): string[] {
  return rankNodes(recordId, nodeIds.filter((id) => id !== home)).slice(0, Math.max(0, replicas))
}
