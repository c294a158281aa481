// A forgotten password: the recovery code shown at sign-up re-opens the keystore; so does the
// one-time code a hospital's staff hand over after recovering a patient who lost every secret.
import { useState, type FormEvent } from 'react'
import { api } from '../api/client.ts'
import { useAction } from '../lib/use-load.ts'
import { navigate } from '../lib/router.ts'
import { ActionStatus, Field, SecretOnce } from '../components/ui.tsx'

export function Recover() {
  const [form, setForm] = useState({ email: '', recoveryCode: '', newPassword: '', confirm: '' })
  const [newCode, setNewCode] = useState<string | undefined>()
  const [saved, setSaved] = useState(false)
  const action = useAction()
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value })
  const submit = (e: FormEvent) => {
    e.preventDefault()
    void action.run(async () => {
      if (form.newPassword !== form.confirm) throw new Error('The two passwords are not the same.')
      const r = await api<{ recoveryCode: string }>('/auth/recover', { method: 'POST', anonymous: true, json: { email: form.email, recoveryCode: form.recoveryCode.trim(), newPassword: form.newPassword } })
      setNewCode(r.recoveryCode)
    })
  }
  if (newCode) {
    return (
      <div className="auth-page">
        <section className="card auth-card" aria-labelledby="recover-done">
          <h1 id="recover-done">Your new password is set</h1>
          <p>Every other session of your account was ended. Your old recovery code no longer works.</p>
          {!saved && (
            <SecretOnce title="Your new recovery code" secret={newCode} onDismiss={() => setSaved(true)}>
              <p>Keep it somewhere safe, apart from your password.</p>
            </SecretOnce>
          )}
          <button type="button" className="btn btn-primary btn-wide" onClick={() => navigate('/signin')}>Sign in</button>
        </section>
      </div>
    )
  }
  return (
    <div className="auth-page">
      <section className="card auth-card" aria-labelledby="recover-title">
        <h1 id="recover-title">Recover your account</h1>
        <p className="lead">Use the recovery code you were given when the account was created.</p>
        <p className="hint">Lost that too? Your hospital can recover your account: go there in person with an identity document. Once a second member of its staff has approved, enter here the one-time code they handed you as the recovery code.</p>
        <form className="form" onSubmit={submit}>
          <Field label="E-mail">{(p) => <input {...p} type="email" required autoComplete="username" value={form.email} onChange={set('email')} />}</Field>
          <Field label="Recovery code" hint="The code from sign-up, or the one-time code from your hospital.">{(p) => <input {...p} required autoComplete="off" spellCheck={false} value={form.recoveryCode} onChange={set('recoveryCode')} />}</Field>
          <Field label="New password" hint="At least 12 characters.">{(p) => <input {...p} type="password" required minLength={12} autoComplete="new-password" value={form.newPassword} onChange={set('newPassword')} />}</Field>
          <Field label="New password again">{(p) => <input {...p} type="password" required minLength={12} autoComplete="new-password" value={form.confirm} onChange={set('confirm')} />}</Field>
          <button type="submit" className="btn btn-primary btn-wide" disabled={action.busy}>Set new password</button>
        </form>
        <ActionStatus action={action} busyText="Re-opening your keys…" />
        <nav className="auth-links" aria-label="Other ways in">
          <a href="/signin" onClick={(e) => { e.preventDefault(); navigate('/signin') }}>Back to sign-in</a>
        </nav>
      </section>
    </div>
  )
}
