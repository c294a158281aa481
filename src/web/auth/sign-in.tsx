// Sign-in: e-mail and password (then a TOTP code when the account asks for one), or a wallet
// through Sign-In with Ethereum.
import { useEffect, useRef, useState, type FormEvent } from 'react'
import { api, ApiError } from '../api/client.ts'
import type { Session } from '../api/types.ts'
import { useAction } from '../lib/use-load.ts'
import { navigate } from '../lib/router.ts'
import { ActionStatus, DoneMessage, Field } from '../components/ui.tsx'
import { signSiweMessage, walletProvider, type SignedSiwe } from './wallet.ts'

export function SignIn({ onSignedIn, notice }: { onSignedIn: (s: Session) => void; notice?: string }) {
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const [totp, setTotp] = useState('')
  const [needCode, setNeedCode] = useState(false)
  const [walletSigned, setWalletSigned] = useState<SignedSiwe | undefined>()
  const action = useAction()
  const codeRef = useRef<HTMLInputElement>(null)
  const hasWallet = Boolean(walletProvider())

  useEffect(() => { if (needCode) codeRef.current?.focus() }, [needCode])

  const finish = (s: Session) => {
    onSignedIn(s)
  }
  const askForCode = (err: unknown) => {
    if (err instanceof ApiError && err.code === 'MFA_REQUIRED') {
      setNeedCode(true)
      return 'Enter the 6-digit code from your authenticator app, or one of your recovery codes.'
    }
    throw err
  }

  const submit = (e: FormEvent) => {
    e.preventDefault()
    void action.run(async () => {
      try {
        if (walletSigned) {
          finish(await api<Session>('/auth/siwe', { method: 'POST', anonymous: true, json: { message: walletSigned.message, signature: walletSigned.signature, totp: totp || undefined } }))
        } else {
          finish(await api<Session>('/auth/login', { method: 'POST', anonymous: true, json: { email, password, totp: needCode ? totp : undefined } }))
        }
      } catch (err) {
        return askForCode(err)
      }
    })
  }

  const connectWallet = () => {
    void action.run(async () => {
      const signed = await signSiweMessage({ statement: 'Sign in to MedLedger.' })
      setWalletSigned(signed)
      try {
        finish(await api<Session>('/auth/siwe', { method: 'POST', anonymous: true, json: { message: signed.message, signature: signed.signature } }))
      } catch (err) {
        return askForCode(err)
      }
    })
  }

  return (
    <div className="auth-page">
      <section className="card auth-card" aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to MedLedger</h1>
        <DoneMessage>{notice}</DoneMessage>
        <form className="form" onSubmit={submit}>
          {!walletSigned && (
            <>
              <Field label="E-mail">{(p) => <input {...p} type="email" name="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />}</Field>
              <Field label="Password">{(p) => <input {...p} type="password" name="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />}</Field>
            </>
          )}
          {walletSigned && <p className="msg msg-info">Signed by wallet <code className="mono">{walletSigned.address}</code>.</p>}
          {needCode && (
            <Field label="Authenticator code" hint="6 digits from your authenticator app, or a recovery code.">
              {(p) => <input {...p} ref={codeRef} name="totp" inputMode="numeric" autoComplete="one-time-code" required value={totp} onChange={(e) => setTotp(e.target.value.trim())} />}
            </Field>
          )}
          <button type="submit" className="btn btn-primary btn-wide" disabled={action.busy}>{walletSigned ? 'Continue' : 'Sign in'}</button>
        </form>
        <ActionStatus action={action} busyText="Signing in…" />
        <div className="divider" role="separator"><span>or</span></div>
        <button type="button" className="btn btn-wide" onClick={connectWallet} disabled={action.busy || !hasWallet} aria-describedby="wallet-hint">Connect wallet</button>
        <p className="hint" id="wallet-hint">
          {hasWallet
            ? 'Signs a Sign-In with Ethereum message in your wallet (MetaMask or any EIP-1193 wallet) for an account you linked to it. A wallet session can browse, but reading records and consenting need your password.'
            : 'No wallet extension was found in this browser. Sign in with your e-mail and password; you can link a wallet from your account page later.'}
        </p>
        <nav className="auth-links" aria-label="Other ways in">
          <a href="/signup" onClick={(e) => { e.preventDefault(); navigate('/signup') }}>Create an account</a>
          <a href="/recover" onClick={(e) => { e.preventDefault(); navigate('/recover') }}>Forgot your password?</a>
          <a href="/shared" onClick={(e) => { e.preventDefault(); navigate('/shared') }}>Open a shared record</a>
        </nav>
      </section>
    </div>
  )
}
