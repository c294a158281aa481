// Two-factor enrolment: a QR code for an authenticator app, a first code, ten recovery codes.
import { useState, type FormEvent } from 'react'
import { api } from '../api/client.ts'
import { useAction } from '../lib/use-load.ts'
import { ActionStatus, Field, SecretOnce } from '../components/ui.tsx'

export function MfaEnrol({ required, onDone }: { required: boolean; onDone: () => void }) {
  const [started, setStarted] = useState<{ secret: string; qrSvg: string } | undefined>()
  const [code, setCode] = useState('')
  // Every change to how the account signs in needs its current password, whatever the session.
  const [password, setPassword] = useState('')
  const [codes, setCodes] = useState<string[] | undefined>()
  const action = useAction()
  const start = (e: FormEvent) => {
    e.preventDefault()
    void action.run(async () => {
      setStarted(await api<{ otpauthUri: string; secret: string; qrSvg: string }>('/mfa/totp', { method: 'POST', json: { password } }))
    })
  }
  const verify = (e: FormEvent) => {
    e.preventDefault()
    void action.run(async () => {
      const r = await api<{ recoveryCodes: string[] }>('/mfa/totp/verify', { method: 'POST', json: { code, password } })
      setPassword('')
      setCodes(r.recoveryCodes)
    })
  }
  if (codes) {
    return (
      <section className="card" aria-labelledby="mfa-done">
        <h2 id="mfa-done">Two-factor sign-in is on</h2>
        <SecretOnce title="Your ten recovery codes" secret={codes.join('\n')} onDismiss={onDone}>
          <p>Each works once instead of an authenticator code, for when you do not have your phone.</p>
        </SecretOnce>
      </section>
    )
  }
  return (
    <section className="card" aria-labelledby="mfa-title">
      <h2 id="mfa-title">Two-factor sign-in</h2>
      {required && <p className="msg msg-warn">Your role needs two-factor sign-in. Until it is set up you can only do this.</p>}
      {!started ? (
        <form className="form" onSubmit={start}>
          <p>Use an authenticator app (Google Authenticator, Aegis, 1Password…) to make a new code every 30 seconds.</p>
          <Field label="Current password" hint="Changing how you sign in needs your password, even in a wallet session.">
            {(p) => <input {...p} type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />}
          </Field>
          <button type="submit" className="btn btn-primary" disabled={action.busy}>Set up an authenticator app</button>
        </form>
      ) : (
        <form className="form" onSubmit={verify}>
          <div className="mfa-setup">
            <img className="qr" src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(started.qrSvg)}`} alt="QR code to scan with an authenticator app" width={200} height={200} />
            <div>
              <p>Scan the code with your app, or type this key into it:</p>
              <p><code className="mono secret-key">{started.secret}</code></p>
            </div>
          </div>
          <Field label="First code from the app">{(p) => <input {...p} inputMode="numeric" autoComplete="one-time-code" required pattern="[0-9]{6}" value={code} onChange={(e) => setCode(e.target.value.trim())} />}</Field>
          <button type="submit" className="btn btn-primary" disabled={action.busy}>Turn on two-factor sign-in</button>
        </form>
      )}
      <ActionStatus action={action} />
    </section>
  )
}
