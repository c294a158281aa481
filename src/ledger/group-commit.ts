export interface GroupCommitParams<T, R> {
  /**
   * Sends one transaction carrying `items` (in submission order) and settles when it is mined,
   * or rejects when it fails; its result (or error) goes to every item of that batch.
   */
  send: (items: readonly T[]) => Promise<R>
  /** Most items in one transaction; the rest waits for the next. */
  maxBatch?: number
}

/** What `submit` settles with: the batch's result and where the item sat in it. */
export interface Committed<R> {
  result: R
  /** Position of the item in its batch (0-based, submission order). */
  index: number
  /** Number of items in that batch. */
  size: number
}

interface Waiting<T, R> {
  item: T
  resolve: (value: Committed<R>) => void
  reject: (reason: unknown) => void
}

/**
 * Group commit of items into transactions: at most one transaction in flight. When none is in
 * flight an item goes out at once (a batch of one); items submitted while one is in flight
 * accumulate and go out together, up to `maxBatch` per transaction, as soon as it is mined.
 * A failure rejects exactly the items of the batch that failed; the next batch still goes.
 */
export class GroupCommitter<T, R> {
  readonly #send: (items: readonly T[]) => Promise<R>
  readonly #maxBatch: number
  #queue: Waiting<T, R>[] = []
  #inFlight = 0
  #running = false
  #idle: (() => void)[] = []

  constructor({ send, maxBatch = 100 }: GroupCommitParams<T, R>) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`maxBatch must be a positive integer, got ${maxBatch}`)
    this.#send = send
    this.#maxBatch = maxBatch
  }

  /** Queues one item; settles when the transaction carrying it is mined (or fails). */
  submit(item: T): Promise<Committed<R>> {
    const promise = new Promise<Committed<R>>((resolve, reject) => this.#queue.push({ item, resolve, reject }))
    if (!this.#running) void this.#run()
    return promise
  }

  /** Items waiting for the next transaction. */
  get queued(): number {
    return this.#queue.length
  }

  /** Items in the transaction now in flight (0 when none is). */
  get inFlight(): number {
    return this.#inFlight
  }

  /** Settles once nothing is queued or in flight. */
  idle(): Promise<void> {
    if (!this.#running) return Promise.resolve()
    return new Promise((resolve) => this.#idle.push(resolve))
  }

  async #run(): Promise<void> {
    this.#running = true
    for (let batch = this.#take(); batch.length > 0; batch = this.#take()) {
      this.#inFlight = batch.length
      try {
        const result = await this.#send(batch.map((w) => w.item))
        batch.forEach((w, index) => w.resolve({ result, index, size: batch.length }))
      } catch (err) {
        for (const w of batch) w.reject(err)
      }
      this.#inFlight = 0
    }
    this.#running = false
    for (const resolve of this.#idle.splice(0)) resolve()
  }

  #take(): Waiting<T, R>[] {
    return this.#queue.splice(0, this.#maxBatch)
  }
}
