// The portal shell: who is signed in decides which portal opens; the path names the tab.
import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react'
import { api, loadSession, saveSession, sessionEndedEvent } from './api/client.ts'
import type { Account, Role, Session } from './api/types.ts'
import { navigate, useLocation } from './lib/router.ts'
import { roleNames } from './lib/format.ts'
import { SignIn } from './auth/sign-in.tsx'
import { SignUp } from './auth/sign-up.tsx'
import { Recover } from './auth/recover.tsx'
import { MfaEnrol } from './auth/mfa-enrol.tsx'
import { AdminPortal } from './portals/admin.tsx'
import { HospitalPortal } from './portals/hospital.tsx'
import { DoctorPortal } from './portals/doctor.tsx'
import { PatientPortal } from './portals/patient.tsx'
import { ResearcherPortal } from './portals/researcher.tsx'
import { AccountPage, Notifications, SharedRecord } from './portals/common.tsx'
import { AdmissionBanner } from './components/admission-banner.tsx'

const portals: Record<Role, { base: string; title: string; tabs: [string, string][] }> = {
  admin: { base: 'admin', title: 'Consortium admin', tabs: [['doctors', 'Doctors to confirm'], ['hospitals', 'Hospitals'], ['emergencies', 'Emergencies'], ['audit', 'Audit trail'], ['status', 'Node status'], ['recoveries', 'Recoveries']] },
  staff: { base: 'hospital', title: 'Hospital', tabs: [['doctors', 'Doctors'], ['patients', 'Patients'], ['pending', 'Sign-ups to confirm'], ['votes', 'Admission votes'], ['teams', 'Care teams'], ['erasures', 'Erasure requests'], ['recoveries', 'Recoveries']] },
  doctor: { base: 'doctor', title: 'Doctor', tabs: [['patients', 'Patients'], ['requests', 'Access requests'], ['emergencies', 'Break-glass log']] },
  patient: { base: 'patient', title: 'Patient', tabs: [['records', 'My records'], ['requests', 'Access'], ['sharing', 'Sharing'], ['teams', 'Care teams'], ['activity', 'Who accessed my records']] },
  researcher: { base: 'research', title: 'Researcher', tabs: [['studies', 'My studies']] },
}
const common: [string, string][] = [['notifications', 'Notifications'], ['account', 'Account']]

/** The short paths notifications link to, per role. */
const aliases: Record<string, Record<Role, string>> = {
  records: { patient: '/patient/records', doctor: '/doctor/patients', staff: '/hospital/patients', admin: '/admin/status', researcher: '/research/studies' },
  requests: { patient: '/patient/requests', doctor: '/doctor/requests', staff: '/hospital/pending', admin: '/admin/doctors', researcher: '/research/studies' },
  audit: { patient: '/patient/activity', doctor: '/doctor/emergencies', staff: '/hospital/patients', admin: '/admin/audit', researcher: '/research/studies' },
  erasures: { patient: '/patient/records', doctor: '/doctor/patients', staff: '/hospital/erasures', admin: '/admin/status', researcher: '/research/studies' },
  teams: { patient: '/patient/teams', doctor: '/doctor/patients', staff: '/hospital/teams', admin: '/admin/status', researcher: '/research/studies' },
  studies: { patient: '/patient/requests', doctor: '/doctor/patients', staff: '/hospital/patients', admin: '/admin/status', researcher: '/research/studies' },
}
const publicPages = ['signin', 'signup', 'recover', 'shared']

export function App() {
  const { session, notice, signIn, signOut, finishEnrolment } = usePortalSession()
  const { path } = useLocation()
  const parts = path.split('/').filter(Boolean)
  if (parts[0] === 'shared') return <Frame><SharedRecord /></Frame>
  if (!session) {
    if (parts[0] === 'signup') return <Frame><SignUp /></Frame>
    if (parts[0] === 'recover') return <Frame><Recover /></Frame>
    return <Frame><SignIn onSignedIn={signIn} notice={notice} /></Frame>
  }
  if (session.mfaEnrollmentRequired) {
    return (
      <Shell session={session} onSignOut={signOut} tabs={[]}>
        <MfaEnrol required onDone={finishEnrolment} />
      </Shell>
    )
  }
  if (aliases[parts[0]]) return <Redirect to={aliases[parts[0]][session.account.role]} />
  const page = signedInPage(session, parts)
  if ('redirect' in page) return <Redirect to={page.redirect} />
  return <Shell session={session} onSignOut={signOut} tabs={page.tabs}>{page.content}</Shell>
}

/**
 * The session kept in storage: signing in (then to the page asked for before, or the portal's
 * first tab), signing out, a session the node ended, and the account re-checked once per session.
 */
function usePortalSession() {
  const [session, setSession] = useState<Session | null>(() => loadSession())
  const [notice, setNotice] = useState<string | undefined>()

  // A page asked for before signing in (a link in a notification) opens after it.
  const [next, setNext] = useState<string | undefined>(() => (publicPages.includes(location.pathname.split('/')[1]) || location.pathname === '/' ? undefined : location.pathname))
  const signIn = useCallback((s: Session) => {
    saveSession(s)
    setSession(s)
    setNotice(undefined)
    setNext(undefined)
    navigate(next ?? `/${portals[s.account.role].base}/${portals[s.account.role].tabs[0][0]}`, { replace: true })
  }, [next])
  const signOut = useCallback(async (message = 'You are signed out.') => {
    try {
      await api('/auth/logout', { method: 'POST' })
    } catch {
      // the session is gone either way; the node forgets it at expiry
    }
    saveSession(null)
    setSession(null)
    setNotice(message)
    navigate('/signin', { replace: true })
  }, [])

  useEffect(() => {
    const ended = (e: Event) => {
      saveSession(null)
      setSession(null)
      setNotice((e as CustomEvent<string>).detail)
      navigate('/signin', { replace: true })
    }
    window.addEventListener(sessionEndedEvent, ended)
    return () => window.removeEventListener(sessionEndedEvent, ended)
  }, [])

  // A stored session is re-checked once: the account may have changed (confirmed, say).
  useEffect(() => {
    if (!session) return
    const controller = new AbortController()
    api<Account>('/auth/me', { signal: controller.signal }).then((account) => {
      const next = { ...session, account }
      saveSession(next)
      setSession(next)
    }, () => { /* an ended session is handled by the session-ended event */ })
    return () => controller.abort()
  }, [session?.token])

  const finishEnrolment = () => {
    if (!session) return
    const next = { ...session, mfaEnrollmentRequired: false }
    saveSession(next)
    setSession(next)
  }
  return { session, notice, signIn, signOut, finishEnrolment }
}

/** A signed-in user's page at `parts`: a tab of their portal or a common page, or where to go instead. */
function signedInPage(session: Session, parts: string[]): { tabs: [string, string][]; content: ReactNode } | { redirect: string } {
  const portal = portals[session.account.role]
  const tabs: [string, string][] = [...portal.tabs.map(([t, label]) => [`/${portal.base}/${t}`, label] as [string, string]), ...common.map(([t, label]) => [`/${t}`, label] as [string, string])]
  if (parts[0] === 'notifications') return { tabs, content: <Notifications /> }
  if (parts[0] === 'account') return { tabs, content: <AccountPage session={session} /> }
  if (parts[0] !== portal.base || !parts[1]) return { redirect: `/${portal.base}/${portal.tabs[0][0]}` }
  const tab = parts[1]
  const me = session.account
  const content = {
    admin: () => <AdminPortal me={me} tab={tab} />,
    staff: () => <HospitalPortal me={me} tab={tab} />,
    doctor: () => <DoctorPortal me={me} tab={tab} rest={parts.slice(2)} />,
    patient: () => <PatientPortal me={me} tab={tab} />,
    researcher: () => <ResearcherPortal me={me} tab={tab} />,
  }[me.role]()
  return { tabs, content }
}

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to])
  return null
}

function Frame({ children }: { children: ReactNode }) {
  return (
    <>
      <a className="skip" href="#main">Skip to content</a>
      <header className="topbar"><Brand /></header>
      <main id="main" tabIndex={-1}>{children}</main>
    </>
  )
}

function Brand() {
  return (
    <a className="brand" href="/" onClick={(e) => { e.preventDefault(); navigate('/') }}>
      <img src="/favicon.svg" alt="" width={28} height={28} />
      <span>MedLedger</span>
    </a>
  )
}

function Shell({ session, onSignOut, tabs, children }: { session: Session; onSignOut: () => void; tabs: [string, string][]; children: ReactNode }) {
  const { path } = useLocation()
  const me = session.account
  const main = useRef<HTMLElement>(null)
  const first = useRef(true)
  // Moving between tabs puts keyboard and screen-reader focus on the new content.
  useEffect(() => {
    if (first.current) { first.current = false; return }
    main.current?.focus()
  }, [path])
  return (
    <>
      <a className="skip" href="#main">Skip to content</a>
      <header className="topbar">
        <Brand />
        <div className="whoami">
          <span><strong>{me.name}</strong> <span className="role">{roleNames[me.role]}</span></span>
          <button type="button" className="btn btn-quiet" onClick={() => onSignOut()}>Sign out</button>
        </div>
      </header>
      {tabs.length > 0 && (
        <nav className="tabs" aria-label={`${portals[me.role].title} portal`}>
          <ul>
            {tabs.map(([href, label]) => {
              const current = path === href || path.startsWith(`${href}/`)
              return (
                <li key={href}>
                  <a href={href} aria-current={current ? 'page' : undefined} onClick={(e) => { e.preventDefault(); navigate(href) }}>{label}</a>
                </li>
              )
            })}
          </ul>
        </nav>
      )}
      <main id="main" ref={main} tabIndex={-1}>
        <AdmissionBanner />
        {!session.keysUnlocked && <p className="msg msg-warn banner">You signed in with a wallet: you can look around, but reading records, consenting and uploading need your password. <a href="/signin" onClick={(e) => { e.preventDefault(); onSignOut() }}>Sign in with your password</a>.</p>}
        {me.role === 'doctor' && me.status === 'pending' && <p className="msg msg-warn banner">Your registration is waiting for confirmation by your hospital or the consortium admin. Until then you can sign in but not upload or ask for access.</p>}
        {children}
      </main>
    </>
  )
}
