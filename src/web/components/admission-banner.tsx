// A node that joined a consortium (medledger start --registry) is read-only until the members
// admit its hospital: every page says so, with the address the members admit it by.
import { useEffect } from 'react'
import { api } from '../api/client.ts'
import type { NodeStatus } from '../api/types.ts'
import { useLoad } from '../lib/use-load.ts'
import { Mono } from './ui.tsx'

/** "Waiting for admission" while GET /status says this node's hospital is not a member yet. */
export function AdmissionBanner() {
  const loaded = useLoad((signal) => api<NodeStatus>('/status', { signal, anonymous: true }), [])
  const waiting = Boolean(loaded.data?.hospitalAddress) && loaded.data?.admitted === false
  useEffect(() => {
    if (!waiting) return
    // Checked again until the members' decision is on the ledger; then the banner goes.
    const timer = setInterval(loaded.reload, 5_000)
    return () => clearInterval(timer)
  }, [waiting, loaded.reload])
  if (!waiting) return null
  return (
    <div className="msg msg-warn banner" role="status" data-admission="waiting">
      <strong>Waiting for admission.</strong> This node's hospital applied to join the consortium
      as <Mono>{loaded.data!.hospitalAddress!}</Mono>. Until the member hospitals admit it, the node is
      read-only: anything that needs the ledger is refused. Give this address to the consortium's
      admin or a member hospital's staff.
    </div>
  )
}
