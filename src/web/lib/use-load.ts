// Loading and acting with visible state: every request shows progress and every failure its
// reason; nothing fails silently.
import { useCallback, useEffect, useRef, useState } from 'react'
import { describeError } from '../api/client.ts'

export interface Loaded<T> {
  data: T | undefined
  error: string | undefined
  loading: boolean
  reload: () => void
}

/** Runs `load` on mount and whenever `deps` change; aborts a superseded load. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true })
  const [tick, setTick] = useState(0)
  const loadRef = useRef(load)
  loadRef.current = load
  useEffect(() => {
    const controller = new AbortController()
    setState((s) => ({ ...s, loading: true, error: undefined }))
    loadRef.current(controller.signal).then(
      (data) => { if (!controller.signal.aborted) setState({ data, loading: false }) },
      (err: unknown) => { if (!controller.signal.aborted) setState({ error: describeError(err), loading: false }) },
    )
    return () => controller.abort()
  }, [...deps, tick])
  const reload = useCallback(() => setTick((t) => t + 1), [])
  return { data: state.data, error: state.error, loading: state.loading, reload }
}

export interface Action {
  busy: boolean
  error: string | undefined
  done: string | undefined
  /** Runs `fn`; its result string (if any) is shown as the success message. */
  run: (fn: () => Promise<string | void>) => Promise<boolean>
  clear: () => void
}

/** A user action with its busy state, its error and its success message. */
export function useAction(): Action {
  const [state, setState] = useState<{ busy: boolean; error?: string; done?: string }>({ busy: false })
  const mounted = useRef(true)
  useEffect(() => () => { mounted.current = false }, [])
  const run = useCallback(async (fn: () => Promise<string | void>) => {
    setState({ busy: true })
    try {
      const done = await fn()
      if (mounted.current) setState({ busy: false, done: done || undefined })
      return true
    } catch (err) {
      if (mounted.current) setState({ busy: false, error: describeError(err) })
      return false
    }
  }, [])
  const clear = useCallback(() => setState({ busy: false }), [])
  return { busy: state.busy, error: state.error, done: state.done, run, clear }
}
