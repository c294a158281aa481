// Pages every signed-in user has: notifications and the account (two-factor, wallet); and the
// public page for opening a record shared by a share code.
import { useState, type FormEvent } from 'react'
import { api, query } from '../api/client.ts'
import type { MailPage, MfaState, Session } from '../api/types.ts'
import { useAction, useLoad } from '../lib/use-load.ts'
import { navigate, useLocation } from '../lib/router.ts'
import { formatDateTime, roleNames } from '../lib/format.ts'
import { ActionStatus, Badge, Field, LoadState, Mono, Pager } from '../components/ui.tsx'
import { MfaEnrol } from '../auth/mfa-enrol.tsx'
import { MfaDisable } from '../auth/mfa-disable.tsx'
import { signSiweMessage, walletProvider } from '../auth/wallet.ts'
import { RecordViewer } from '../viewers/record-viewer.tsx'

export function Notifications() {
  const [offset, setOffset] = useState(0)
  const loaded = useLoad((signal) => api<MailPage>(`/mail${query({ limit: 50, offset })}`, { signal }), [offset])
  return (
    <section aria-labelledby="mail-title">
      <div className="section-head">
        <h2 id="mail-title">Notifications</h2>
        <button type="button" className="btn" onClick={loaded.reload}>Refresh</button>
      </div>
      <LoadState loaded={loaded} what="notifications">
        {(page) => page.mail.length === 0 ? <p className="empty">No notification.</p> : (
          <>
            <ul className="cards mail">
              {page.mail.map((m) => (
                <li key={m.id} className={`card${m.kind.includes('emergency') ? ' emergency' : ''}`} data-kind={m.kind}>
                  <div className="card-head">
                    <h3>{m.subject}</h3>
                    <span className="hint">{formatDateTime(m.createdAt)}{m.state === 'failed' ? ' · delivery failed, retrying' : ''}</span>
                  </div>
                  <p className="mail-body">{m.body}</p>
                </li>
              ))}
            </ul>
            <Pager offset={page.offset} limit={page.limit} total={page.total} onChange={setOffset} />
          </>
        )}
      </LoadState>
    </section>
  )
}

export function AccountPage({ session }: { session: Session }) {
  const me = session.account
  const mfa = useLoad((signal) => api<MfaState>('/mfa', { signal }), [])
  const [enrolling, setEnrolling] = useState(false)
  const wallet = useAction()
  const [walletPassword, setWalletPassword] = useState('')
  const link = (e: FormEvent) => {
    e.preventDefault()
    void wallet.run(async () => {
      const signed = await signSiweMessage({ statement: 'Link this wallet to my MedLedger account.' })
      const r = await api<{ walletAddress: string }>('/auth/wallet', { method: 'POST', json: { message: signed.message, signature: signed.signature, password: walletPassword } })
      setWalletPassword('')
      return `Wallet ${r.walletAddress} is linked: you can now sign in with it.`
    })
  }
  return (
    <section aria-labelledby="account-title">
      <h2 id="account-title">Account and security</h2>
      <dl className="proof card">
        <dt>Name</dt><dd>{me.name}</dd>
        <dt>E-mail</dt><dd>{me.email}</dd>
        <dt>Role</dt><dd>{roleNames[me.role] ?? me.role} {me.status !== 'active' && <Badge tone="warn">{me.status}</Badge>}</dd>
        <dt>Ledger address</dt><dd><Mono>{me.address}</Mono></dd>
        <dt>Key-wrap scheme</dt><dd>{me.keyScheme}</dd>
        <dt>Session</dt><dd>ends {formatDateTime(session.expiresAt)}{session.keysUnlocked ? '' : ' · wallet session: your keys are locked'}</dd>
      </dl>
      <LoadState loaded={mfa} what="two-factor state">
        {(state) => state.totpEnabled ? (
          <div className="card">
            <h3>Two-factor sign-in</h3>
            <p><Badge tone="ok">on</Badge> {state.recoveryCodesLeft} recovery code{state.recoveryCodesLeft === 1 ? '' : 's'} left.</p>
            {!state.required && <MfaDisable onDone={mfa.reload} />}
          </div>
        ) : enrolling ? (
          <MfaEnrol required={false} onDone={() => { setEnrolling(false); mfa.reload() }} />
        ) : (
          <div className="card">
            <h3>Two-factor sign-in</h3>
            <p>{state.required ? 'Your role requires it.' : 'Optional for your role, and recommended.'}</p>
            <button type="button" className="btn btn-primary" onClick={() => setEnrolling(true)}>Set up</button>
          </div>
        )}
      </LoadState>
      <div className="card">
        <h3>Wallet</h3>
        <p>Link an Ethereum wallet (MetaMask or any EIP-1193 wallet) to sign in with it. A wallet session cannot use your keys: reading records and consenting still need your password.</p>
        <form className="form" onSubmit={link}>
          <Field label="Current password" hint="Linking a wallet changes how you sign in: it needs your password.">
            {(p) => <input {...p} type="password" autoComplete="current-password" required value={walletPassword} onChange={(e) => setWalletPassword(e.target.value)} disabled={!walletProvider() || !session.keysUnlocked} />}
          </Field>
          <button type="submit" className="btn" disabled={wallet.busy || !walletProvider() || !session.keysUnlocked}>Link a wallet</button>
        </form>
        {!walletProvider() && <p className="hint">No wallet extension was found in this browser.</p>}
        <ActionStatus action={wallet} busyText="Waiting for the wallet…" />
      </div>
    </section>
  )
}

/** Opening records shared by a share code: no account; the code goes in a header, never a URL. */
export function SharedRecord() {
  const { search } = useLocation()
  const fromLink = (search.get('records') ?? '').split(',').map((s) => s.trim()).filter(Boolean)
  const [recordId, setRecordId] = useState(fromLink[0] ?? '')
  const [code, setCode] = useState('')
  const [open, setOpen] = useState<{ recordId: string; code: string } | undefined>()
  const submit = (e: FormEvent) => {
    e.preventDefault()
    setOpen({ recordId: recordId.trim(), code: code.trim() })
  }
  return (
    <div className="auth-page shared-page">
      <section className="card auth-card auth-card-wide" aria-labelledby="shared-title">
        <h1 id="shared-title">Open a shared record</h1>
        <p className="lead">A patient shared records with you through MedLedger. Enter the share code they gave you.</p>
        <form className="form" onSubmit={submit}>
          {fromLink.length > 1 ? (
            <Field label="Record">
              {(p) => <select {...p} value={recordId} onChange={(e) => setRecordId(e.target.value)}>{fromLink.map((id, i) => <option key={id} value={id}>Record {i + 1} ({id.slice(0, 10)}…)</option>)}</select>}
            </Field>
          ) : (
            <Field label="Record id">{(p) => <input {...p} required value={recordId} onChange={(e) => setRecordId(e.target.value)} spellCheck={false} autoComplete="off" />}</Field>
          )}
          <Field label="Share code">{(p) => <input {...p} type="password" required value={code} onChange={(e) => setCode(e.target.value)} autoComplete="off" spellCheck={false} />}</Field>
          <button type="submit" className="btn btn-primary">Open</button>
        </form>
        <nav className="auth-links" aria-label="Other ways in">
          <a href="/signin" onClick={(e) => { e.preventDefault(); navigate('/signin') }}>Sign in</a>
        </nav>
      </section>
      {open && <RecordViewer key={`${open.recordId}:${open.code}`} record={{ recordId: open.recordId }} shareToken={open.code} />}
    </div>
  )
}

