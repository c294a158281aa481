// Hospital staff (and the admin) reset a member's two-factor sign-in when the member lost their
// authenticator: the member is mailed and the reset is in the account events.
import { useState, type FormEvent } from 'react'
import { api } from '../api/client.ts'
import type { Account } from '../api/types.ts'
import { useAction } from '../lib/use-load.ts'
import { ActionStatus, Field } from './ui.tsx'

export function MfaResetForm({ members }: { members: Account[] }) {
  const [accountId, setAccountId] = useState('')
  const [password, setPassword] = useState('')
  const action = useAction()
  const submit = (e: FormEvent) => {
    e.preventDefault()
    const member = members.find((m) => m.id === accountId)
    if (!member) return
    void action.run(async () => {
      await api<{ accountId: string; mfaReset: boolean }>(`/users/${encodeURIComponent(member.id)}/mfa/reset`, { method: 'POST', json: { password } })
      setPassword('')
      return `Two-factor sign-in of ${member.name} is reset: their authenticator and recovery codes no longer work and their sessions ended. They were told by e-mail.`
    })
  }
  if (!members.length) return null
  return (
    <form className="card form" onSubmit={submit} aria-labelledby="mfa-reset-title">
      <h3 id="mfa-reset-title">Reset two-factor sign-in</h3>
      <p className="hint">For a member who lost their authenticator app and recovery codes. Check who is asking first: the reset lets their password alone sign in until they set up a new authenticator.</p>
      <Field label="Member">
        {(p) => (
          <select {...p} required value={accountId} onChange={(e) => setAccountId(e.target.value)}>
            <option value="">Choose…</option>
            {members.map((m) => <option key={m.id} value={m.id}>{m.name} ({m.email})</option>)}
          </select>
        )}
      </Field>
      <Field label="Your password" hint="Your own current password confirms the reset.">
        {(p) => <input {...p} type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />}
      </Field>
      <button type="submit" className="btn" disabled={action.busy || !accountId}>Reset two-factor sign-in</button>
      <ActionStatus action={action} />
    </form>
  )
}
