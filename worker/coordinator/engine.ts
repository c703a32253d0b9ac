// The coordinator's scheduler over its SQLite store (core/scheduler/), with what the Durable Object reads after a commit.
import { Scheduler } from "../core/scheduler/scheduler.ts";
import type { SchedulerEffect } from "../core/scheduler/host.ts";
import type { HttpJob } from "../core/scheduler/records.ts";
import { instanceView, type InstanceView } from "../db/views.ts";
import { mirrorRow, mirrorRunRow, StoreHost } from "./host.ts";
import type { Outbox } from "./outbox.ts";
import type { CoordinatorStore } from "./store.ts";

export type { HttpJob, Started, StartInstance } from "../core/scheduler/records.ts";

export class Engine extends Scheduler {
  private readonly storeHost: StoreHost;
  private readonly store: CoordinatorStore;

  constructor(store: CoordinatorStore, outbox: Outbox, timeoutGraceMs: number, liveWindowMs: number, clock: () => number = Date.now) {
    const host = new StoreHost(store, outbox, clock);
    super(host, { timeoutGraceMs, liveWindowMs });
    this.storeHost = host;
    this.store = store;
  }

  /** Whether this object has the attempt's http request in flight (set by the Durable Object). */
  set httpInFlight(inFlight: (attemptId: string) => boolean) {
    this.storeHost.inFlight = inFlight;
  }

  /** Sees every effect inside its transaction (the coordinator's alerts). */
  set effectObserver(observe: (effect: SchedulerEffect) => void) {
    this.storeHost.observe = observe;
  }

  /** Forgets what a transaction that rolled back gathered in memory: instance state, http requests and live notices. */
  override discardUncommitted(): void {
    super.discardUncommitted();
    this.storeHost.discardUncommitted();
  }

  takeHttpJobs(): HttpJob[] {
    return this.storeHost.takeHttpJobs();
  }

  /** Called once a transaction committed: the instances it changed, for live subscribers. */
  takeTouched(): string[] {
    this.committed();
    return this.storeHost.takeTouched();
  }

  /** The instance as the API shows it, from the coordinator's live state. */
  view(instanceId: string): InstanceView | null {
    const instance = this.store.instance(instanceId);
    return instance ? instanceView(mirrorRow(instance), this.store.currentRuns(instanceId).map(mirrorRunRow), this.waitReason(instanceId)) : null;
  }
}
