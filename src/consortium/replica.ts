/** Where an anchored record is kept, as far as this node is concerned. Pseudonymous ids and states only. */
export interface Replica {
  recordId: string
  /** home: stored here by its own hospital; wanted: not fetched yet; pinned: kept here; elsewhere: kept by other members. */
  state: string
  attempts: number
  error: string | null
  seenAt: string | null
  pinnedAt: string | null
}

export interface ReplicaRow { record_id: string; own: number; state: string | null; attempts: number | null; error: string | null; seen_at: number | null; pinned_at: number | null }

/** Anchored records with their hospital's ownership and replica state; callers add `AND …` conditions. */
export const selectReplicas = `SELECT r.record_id, CASE WHEN h.sealed_secrets <> '' THEN 1 ELSE 0 END AS own, p.state, p.attempts, p.error, p.seen_at, p.pinned_at
  FROM records r JOIN hospitals h ON h.id = r.hospital_id LEFT JOIN replicas p ON p.record_id = r.record_id WHERE r.state = 'anchored'`

/** The public view of a replica row. */
export function toReplica(r: ReplicaRow): Replica {
  return {
    recordId: r.record_id,
    state: r.own === 1 ? 'home' : (r.state ?? 'elsewhere'),
    attempts: r.attempts ?? 0,
    error: r.error,
    seenAt: r.seen_at === null ? null : new Date(r.seen_at).toISOString(),
    pinnedAt: r.pinned_at === null ? null : new Date(r.pinned_at).toISOString(),
  }
}
