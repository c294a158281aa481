// Turning two-factor sign-in off: the current password and a code, whatever the session.
import { useState, type FormEvent } from 'react'
import { api } from '../api/client.ts'
import { useAction } from '../lib/use-load.ts'
import { ActionStatus, Field } from '../components/ui.tsx'

export function MfaDisable({ onDone }: { onDone: () => void }) {
  const [password, setPassword] = useState('')
  const [code, setCode] = useState('')
  const action = useAction()
  const submit = (e: FormEvent) => {
    e.preventDefault()
    void action.run(async () => {
      await api<{ totpEnabled: boolean }>('/mfa/totp/disable', { method: 'POST', json: { password, code } })
      setPassword('')
      setCode('')
      onDone()
    })
  }
  return (
    <form className="form" onSubmit={submit} aria-label="Turn off two-factor sign-in">
      <Field label="Current password">{(p) => <input {...p} type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />}</Field>
      <Field label="Code from the app" hint="6 digits from your authenticator app, or one of your recovery codes.">
        {(p) => <input {...p} autoComplete="one-time-code" required value={code} onChange={(e) => setCode(e.target.value.trim())} />}
      </Field>
      <button type="submit" className="btn" disabled={action.busy}>Turn off two-factor sign-in</button>
      <ActionStatus action={action} />
    </form>
  )
}
