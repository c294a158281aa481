// Small building blocks shared by every portal: messages, fields, progress, paging.
import { useEffect, useId, useRef, useState, type ReactNode } from 'react'
import type { Action, Loaded } from '../lib/use-load.ts'

/** A failure in plain words; announced to screen readers. */
export function ErrorMessage({ children }: { children?: ReactNode }) {
  if (!children) return null
  return <p className="msg msg-error" role="alert"><strong>Could not do that:</strong> {children}</p>
}

/** A success message, announced politely. */
export function DoneMessage({ children }: { children?: ReactNode }) {
  if (!children) return null
  return <p className="msg msg-done" role="status">{children}</p>
}

/** The busy / error / done state of an action. */
export function ActionStatus({ action, busyText = 'Working…' }: { action: Action; busyText?: string }) {
  return (
    <>
      {action.busy && <p className="msg msg-busy" role="status"><Spinner /> {busyText}</p>}
      <ErrorMessage>{action.error}</ErrorMessage>
      <DoneMessage>{action.done}</DoneMessage>
    </>
  )
}

export function Spinner() {
  return <span className="spinner" aria-hidden="true" />
}

/** Loading state and error of a `useLoad`, then the content. */
export function LoadState<T>({ loaded, what, children }: { loaded: Loaded<T>; what: string; children: (data: T) => ReactNode }) {
  if (loaded.error) {
    return (
      <div>
        <ErrorMessage>{loaded.error}</ErrorMessage>
        <button type="button" className="btn" onClick={loaded.reload}>Try again</button>
      </div>
    )
  }
  if (loaded.data === undefined) return <p className="msg msg-busy" role="status"><Spinner /> Loading {what}…</p>
  return <>{children(loaded.data)}</>
}

/** A labelled form control; `hint` is tied to the control with aria-describedby. */
export function Field({ label, hint, children }: { label: string; hint?: ReactNode; children: (props: { id: string; 'aria-describedby'?: string }) => ReactNode }) {
  const id = useId()
  const hintId = `${id}-hint`
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children({ id, 'aria-describedby': hint ? hintId : undefined })}
      {hint && <p className="hint" id={hintId}>{hint}</p>}
    </div>
  )
}

/** A progress bar with its label and percentage; indeterminate when `value` is undefined. */
export function Progress({ label, value, detail }: { label: string; value?: number; detail?: string }) {
  const pct = value === undefined ? undefined : Math.max(0, Math.min(100, Math.round(value * 100)))
  return (
    <div className="progress" role="group" aria-label={label}>
      <div className="progress-label"><span>{label}</span><span>{pct === undefined ? detail ?? '' : `${pct}%${detail ? ` · ${detail}` : ''}`}</span></div>
      <progress max={100} value={pct} aria-label={label} data-percent={pct ?? ''} />
    </div>
  )
}

export function Badge({ tone = 'neutral', children, title }: { tone?: 'neutral' | 'ok' | 'bad' | 'warn' | 'info'; children: ReactNode; title?: string }) {
  return <span className={`badge badge-${tone}`} title={title}>{children}</span>
}

const statusTone: Record<string, 'neutral' | 'ok' | 'bad' | 'warn' | 'info'> = {
  pending: 'warn', approved: 'ok', active: 'ok', denied: 'bad', rejected: 'bad', revoked: 'neutral', expired: 'neutral', proposed: 'info', live: 'bad', registering: 'info',
}

export function StatusBadge({ status }: { status: string }) {
  return <Badge tone={statusTone[status] ?? 'neutral'}>{status}</Badge>
}

/** Pages a list beyond `size` rows, so long lists stay fast and readable. */
export function usePaged<T>(items: T[], size = 50): { page: T[]; pager: ReactNode } {
  const [index, setIndex] = useState(0)
  const pages = Math.max(1, Math.ceil(items.length / size))
  const current = Math.min(index, pages - 1)
  const page = items.slice(current * size, current * size + size)
  return { page, pager: <Pager offset={current * size} limit={size} total={items.length} onChange={(o) => setIndex(Math.floor(o / size))} /> }
}

/** Previous / next for a list that the server or the client pages. */
export function Pager({ offset, limit, total, onChange }: { offset: number; limit: number; total: number; onChange: (offset: number) => void }) {
  if (total <= limit) return null
  const from = offset + 1
  const to = Math.min(offset + limit, total)
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" className="btn" disabled={offset === 0} onClick={() => onChange(Math.max(0, offset - limit))}>Previous</button>
      <span>{from}–{to} of {total}</span>
      <button type="button" className="btn" disabled={to >= total} onClick={() => onChange(offset + limit)}>Next</button>
    </nav>
  )
}

/**
 * A secret shown once (recovery code, share code): it is never stored by the portal, and is
 * gone once dismissed.
 */
export function SecretOnce({ title, secret, children, onDismiss }: { title: string; secret: string; children?: ReactNode; onDismiss: () => void }) {
  const [copied, setCopied] = useState<string | undefined>()
  const ref = useRef<HTMLTextAreaElement>(null)
  const headingRef = useRef<HTMLHeadingElement>(null)
  useEffect(() => headingRef.current?.focus(), [])
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret)
      setCopied('Copied to the clipboard.')
    } catch {
      ref.current?.select()
      setCopied('The browser did not allow copying: the text is selected, press Ctrl+C (⌘C).')
    }
  }
  return (
    <section className="secret-once" aria-labelledby="secret-once-title">
      <h3 id="secret-once-title" tabIndex={-1} ref={headingRef}>{title}</h3>
      {children}
      <textarea ref={ref} className="secret" readOnly value={secret} rows={Math.min(6, secret.split('\n').length + 1)} aria-label={title} onFocus={(e) => e.currentTarget.select()} />
      <div className="row">
        <button type="button" className="btn btn-primary" onClick={copy}>Copy</button>
        <button type="button" className="btn" onClick={onDismiss}>I have saved it — hide it</button>
      </div>
      {copied && <p className="hint" role="status">{copied}</p>}
      <p className="hint">This is shown only once. MedLedger keeps no copy it could show again.</p>
    </section>
  )
}

/** A long value (hash, address, CID) in monospace, shortened on narrow screens by CSS. */
export function Mono({ children }: { children: ReactNode }) {
  return <code className="mono">{children}</code>
}
