// Self sign-up for patients (active at once) and doctors (pending until confirmed).
import { useState, type FormEvent } from 'react'
import { api } from '../api/client.ts'
import type { Account } from '../api/types.ts'
import { useAction } from '../lib/use-load.ts'
import { navigate, useLocation } from '../lib/router.ts'
import { ActionStatus, Field, SecretOnce } from '../components/ui.tsx'

export function SignUp() {
  const { search } = useLocation()
  const [form, setForm] = useState({ role: 'patient' as 'patient' | 'doctor', hospital: search.get('hospital') ?? '', name: '', email: '', password: '', confirm: '', licence: '', keyScheme: 'x25519-hpke' })
  const [done, setDone] = useState<{ account: Account; recoveryCode: string } | undefined>()
  const [saved, setSaved] = useState(false)
  const action = useAction()
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value })

  const submit = (e: FormEvent) => {
    e.preventDefault()
    void action.run(async () => {
      if (form.password !== form.confirm) throw new Error('The two passwords are not the same.')
      const r = await api<{ account: Account; recoveryCode: string }>('/signup', {
        method: 'POST', anonymous: true,
        json: { role: form.role, hospital: form.hospital.trim(), name: form.name, email: form.email, password: form.password, keyScheme: form.keyScheme, ...(form.role === 'doctor' && form.licence ? { licence: form.licence } : {}) },
      })
      setDone(r)
    })
  }

  if (done) {
    return (
      <div className="auth-page">
        <section className="card auth-card" aria-labelledby="signup-done">
          <h1 id="signup-done">Account created</h1>
          {done.account.role === 'doctor'
            ? <p>Your registration is <strong>waiting for confirmation</strong> by your hospital or the consortium admin. You can sign in now; clinical actions open once you are confirmed.</p>
            : <p>Your patient account is active. Your keys were created and registered on the ledger.</p>}
          {/* The node answers a sign-up with an address that already has an account the same way (so nobody learns who has one) and mails that address's owner instead. */}
          <p className="hint">If this e-mail address already had an account, nothing new was created and this code opens nothing: we sent a message to that address instead. Sign in with your existing password, or use your recovery code if you forgot it.</p>
          {!saved && (
            <SecretOnce title="Your recovery code" secret={done.recoveryCode} onDismiss={() => setSaved(true)}>
              <p>Keep it somewhere safe: it is the only way back into your account, and to your records, if you forget your password.</p>
            </SecretOnce>
          )}
          <button type="button" className="btn btn-primary btn-wide" onClick={() => navigate('/signin')}>Go to sign-in</button>
        </section>
      </div>
    )
  }

  return (
    <div className="auth-page">
      <section className="card auth-card auth-card-wide" aria-labelledby="signup-title">
        <h1 id="signup-title">Create an account</h1>
        <form className="form" onSubmit={submit}>
          <fieldset className="choice">
            <legend>I am a</legend>
            <label><input type="radio" name="role" value="patient" checked={form.role === 'patient'} onChange={() => setForm({ ...form, role: 'patient' })} /> Patient</label>
            <label><input type="radio" name="role" value="doctor" checked={form.role === 'doctor'} onChange={() => setForm({ ...form, role: 'doctor' })} /> Doctor</label>
          </fieldset>
          <Field label="Hospital" hint="The hospital's id or ledger address, as your hospital gave it to you.">
            {(p) => <input {...p} name="hospital" required maxLength={80} value={form.hospital} onChange={set('hospital')} autoComplete="off" spellCheck={false} />}
          </Field>
          <div className="grid-2">
            <Field label="Full name">{(p) => <input {...p} name="name" required maxLength={200} value={form.name} onChange={set('name')} autoComplete="name" />}</Field>
            <Field label="E-mail">{(p) => <input {...p} name="email" type="email" required maxLength={320} value={form.email} onChange={set('email')} autoComplete="email" />}</Field>
            <Field label="Password" hint="At least 12 characters. It also protects your keys.">
              {(p) => <input {...p} name="password" type="password" required minLength={12} value={form.password} onChange={set('password')} autoComplete="new-password" />}
            </Field>
            <Field label="Password again">{(p) => <input {...p} name="confirm" type="password" required minLength={12} value={form.confirm} onChange={set('confirm')} autoComplete="new-password" />}</Field>
          </div>
          {form.role === 'doctor' && (
            <Field label="Licence number" hint="Checked by whoever confirms your registration.">
              {(p) => <input {...p} name="licence" required maxLength={40} value={form.licence} onChange={set('licence')} autoComplete="off" />}
            </Field>
          )}
          <details>
            <summary>Advanced: key-wrap scheme</summary>
            <Field label="Key-wrap scheme">
              {(p) => (
                <select {...p} value={form.keyScheme} onChange={set('keyScheme')}>
                  <option value="x25519-hpke">X25519 HPKE (default)</option>
                  <option value="rsa-oaep-4096">RSA-OAEP-4096</option>
                </select>
              )}
            </Field>
          </details>
          <button type="submit" className="btn btn-primary btn-wide" disabled={action.busy}>Create account</button>
        </form>
        <ActionStatus action={action} busyText="Creating your keys and registering on the ledger…" />
        <nav className="auth-links" aria-label="Other ways in">
          <a href="/signin" onClick={(e) => { e.preventDefault(); navigate('/signin') }}>I already have an account</a>
        </nav>
      </section>
    </div>
  )
}
