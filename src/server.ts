import http from 'node:http';
import pLimit from 'p-limit';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type { Server as TusServer } from '@tus/server';
import type { Config } from './config/config.js';
import { clientAddressOf } from './http/client-address.js';
import { corsOriginFor } from './http/cors.js';
import { ResponseHeaders } from './http/response-headers.js';
import { isUploadId, RequestTargets } from './tus/request-target.js';
import { createApp, createMetricsApp } from './http/app.js';
import { capConnectionsPerClient, closeIdleConnections } from './http/connection-guards.js';
import { createLogger, type Logger } from './logging/logger.js';
import type { Authenticate } from './auth/authenticate.js';
import { jwtAuthenticator } from './auth/jwt-authenticator.js';
import { ownershipExtension } from './auth/ownership-extension.js';
import { limitsExtension, requestRateLimit } from './limits/limits-extension.js';
import { instrumentLocker, metricsExtension, observeEvents } from './metrics/instrument.js';
import { TesseraMetrics } from './metrics/metrics.js';
import { embeddedCoordination } from './coordination/embedded-coordination.js';
import { redisCoordination } from './coordination/redis-coordination.js';
import { S3 } from '@aws-sdk/client-s3';
import { createStoreAdapter } from './stores/create-store-adapter.js';
import { s3ClientConfig } from './stores/s3/s3-store-adapter.js';
import { S3UploadStateStore } from './stores/s3/s3-upload-state-store.js';
import { ExpirySweeper } from './tus/expiry-sweeper.js';
import { PeriodicPass } from './tus/periodic-pass.js';
import { creationRecords, lifecycleExtension } from './tus/completion/lifecycle-extension.js';
import { initialFacts } from './tus/request-facts.js';
import { nodeRequestOf } from './tus/upstream/node-request.js';
import path from 'node:path';
import { EVENTS, type Upload } from '@tus/utils';
import { HookDelivery } from './hooks/http/hook-delivery.js';
import { FileHookOutbox, type HookOutbox } from './hooks/http/hook-outbox.js';
import { IdReservations } from './hooks/http/id-reservations.js';
import { S3HookOutbox } from './hooks/http/s3-hook-outbox.js';
import { lockAll } from './locking/lock-all.js';
import { directRoutes } from './direct/direct-routes.js';
import { DraftAdapter } from './ietf/draft-adapter.js';
import { DirectUploads } from './direct/direct-uploads.js';
import { isGoneUpload } from './errors.js';
import { httpHooks, withHttpHooks } from './hooks/http/http-hooks.js';
import type { TesseraHooks } from './tus/hooks.js';
import { TesseraEvents } from './tus/completion/tessera-events.js';
import { UploadCompletion } from './tus/completion/upload-completion.js';
import { concatenationExtension } from './tus/extensions/concatenation/concatenation-extension.js';
import { FinalAssembler } from './tus/extensions/concatenation/final-assembler.js';
import { integrityExtension } from './tus/extensions/integrity/integrity-extension.js';
import { partialExpiryExtension } from './tus/extensions/expiry/partial-expiry-extension.js';
import type { UploadStateStore } from './tus/state/upload-state.js';
import { contextLayer } from './tus/layers/context-layer.js';
import { downloadHandler } from './tus/download/download-handler.js';
import { creationBodyLayer } from './tus/layers/creation-body-layer.js';
import { checksumExtension } from './tus/extensions/checksum/index.js';
import { storageFullExtension } from './tus/extensions/storage-full/storage-full-extension.js';
import { TesseraDataStore } from './tus/tessera-datastore.js';
import { createTusServer, emitPostCreate, emitPostFinish, patchProgress, uploadUrlFor } from './tus/upstream/tus-server.js';
import { patchHandler } from './tus/patch-handler.js';

/** For an embedder's approveFinish: throw it to refuse a file. */
export { FinishRefused } from './tus/completion/upload-completion.js';

export interface TesseraOptions {
  readonly config: Config;
  /** @tus/server hooks (see TesseraHooks for how onUploadFinish differs). */
  readonly hooks?: TesseraHooks;
  /** Identifies callers; overrides the JWT authentication configured by AUTH_* variables. */
  readonly authenticate?: Authenticate;
  readonly logger?: Logger;
}

export interface Tessera {
  readonly config: Config;
  readonly app: Express;
  readonly tus: TusServer;
  readonly store: TesseraDataStore;
  readonly state: UploadStateStore;
  readonly events: TesseraEvents;
  readonly metrics: TesseraMetrics;
  readonly sweeper: ExpirySweeper;
  /** Finishes uploads a crash left unsettled; runs at start and on the sweep interval. */
  readonly recovery: PeriodicPass;
  readonly log: Logger;
  /** Starts listening on config.host:config.port (and METRICS_PORT); resolves to the bound addresses. */
  listen(): Promise<{ url: string; port: number; metricsUrl?: string }>;
  /** Graceful stop: refuse new requests, drain in-flight ones for a bounded time, release. */
  close(): Promise<void>;
}

/**
 * S3 uploads' records in their bucket, with a client of their own. Retry claims stay where the
 * coordination keeps them (they need an atomic create), and records earlier versions kept there
 * are still read.
 */
/** How long an id pre-create chose stays reserved when its POST never ends (its process was killed). */
const HOOK_ID_RESERVATION_MS = 10 * 60_000;

/** Where undelivered hook notifications wait: the bucket on S3 (instances share no disk), else the data directory. */
function hookOutbox(config: Config): HookOutbox {
  if (!config.s3) return new FileHookOutbox(path.join(config.dataDir, '.tessera-hooks', 'outbox'));
  const { bucket, ...clientConfig } = s3ClientConfig(config.s3);
  return new S3HookOutbox({ client: new S3(clientConfig), bucket });
}

function bucketState(s3: NonNullable<Config['s3']>, soleWriter: boolean, coordinationState: UploadStateStore): UploadStateStore {
  const { bucket, ...clientConfig } = s3ClientConfig(s3);
  return new S3UploadStateStore({ client: new S3(clientConfig), bucket, soleWriter, claims: coordinationState, earlier: coordinationState });
}

/**
 * An embedder's namingFunction must produce upload ids (README): an id that is not one could name
 * another upload's record or files, so it fails the creation (500) before anything is stored.
 */
function withCheckedNaming(hooks: TesseraHooks): TesseraHooks {
  const naming = hooks.namingFunction;
  if (!naming) return hooks;
  return {
    ...hooks,
    namingFunction: async (req, metadata) => {
      const id = await naming(req, metadata);
      if (!isUploadId(id)) throw new Error(`namingFunction returned "${id.slice(0, 60)}", which is not an upload id`);
      return id;
    },
  };
}

/** The composition root: the only place that wires store, locker, extensions and @tus/server. */
export function createTessera({ config, hooks: given = {}, authenticate, logger }: TesseraOptions): Tessera {
  const log = logger ?? createLogger(config.logLevel);
  const coordination = config.redis ? redisCoordination(config, config.redis, log) : embeddedCoordination(config);
  const metrics = new TesseraMetrics();
  const observeHook = (hook: string, ok: boolean) => {
    metrics.hookInvocations.inc({ hook });
    if (!ok) metrics.hookErrors.inc({ hook });
  };
  // post-finish and post-terminate: recorded beside the data (the data directory, or the bucket,
  // which every instance shares), delivered at least once (one instance at a time).
  const hookDelivery = config.hooksHttp
    ? new HookDelivery(hookOutbox(config), config.hooksHttp, coordination.locker, log, {
        observe: observeHook,
        delivered: (hook, seconds) => metrics.hookDeliverySeconds.observe({ hook }, seconds),
        outbox: (depth, oldest) => {
          metrics.hookOutboxDepth.set(depth);
          metrics.hookOutboxOldestSeconds.set(oldest);
        },
      })
    : undefined;
  // Filled once the store and state exist (below): pre-create asks whether the id it chose is taken.
  let uploadExists: (id: string) => Promise<boolean> = async () => true;
  let readUpload: (id: string) => Promise<Upload> = () => Promise.reject(new Error('the store is not ready'));
  let terminate: (id: string) => Promise<void> = () => Promise.reject(new Error('the store is not ready'));
  const targets = new RequestTargets(config.tusPath);
  const hookSender =
    config.hooksHttp && hookDelivery
      ? httpHooks(config.hooksHttp, log, {
          deliver: (body) => hookDelivery.enqueue(body),
          uploadExists: (id) => uploadExists(id),
          readUpload: (id) => readUpload(id),
          terminate: (id) => terminate(id),
          // In the shared state, so two instances given one id by pre-create never both create it.
          reservations: new IdReservations(coordination.state, HOOK_ID_RESERVATION_MS),
          observe: observeHook,
        })
      : undefined;
  const hooks = withCheckedNaming(hookSender ? withHttpHooks(given, hookSender.hooks) : given);
  const responseHeaders = new ResponseHeaders(corsOriginFor(config.corsOrigins));
  const locker = instrumentLocker(coordination.locker, metrics);
  const adapter = createStoreAdapter(config, coordination, log);
  // Lifecycle records live with the data: beside the files (coordination's store), or in the bucket.
  const state = config.s3 ? bucketState(config.s3, !config.redis, coordination.state) : coordination.state;
  // Uploads with a record as well as those the store lists (S3 lists only unfinished multipart uploads).
  const allUploadIds = async () => [...new Set([...(await state.ids()), ...(await adapter.listUploadIds())])];
  const store = new TesseraDataStore(adapter, locker, allUploadIds);
  readUpload = (id) => store.getUpload(id);
  terminate = async (id) => {
    const unlock = await lockAll(locker, id, []);
    try {
      await store.remove(id);
    } finally {
      await unlock();
    }
  };
  uploadExists = async (id) =>
    (await state.get(id)) !== undefined ||
    (await store.getUpload(id).then(
      () => true,
      (error: unknown) => (isGoneUpload(error) ? false : Promise.reject(error)),
    ));
  const events = new TesseraEvents();
  // Whole-file work (assembly, read-back verification) queues beyond this many at once.
  const heavyWork = pLimit(config.maxConcurrentAssemblies);
  metrics.observeHeavyWork(heavyWork);
  const assembler = new FinalAssembler(store, state, locker, log, { maxSize: config.maxSize, heavyWork, awaitsApproval: hooks.approveFinish !== undefined });
  const completion = new UploadCompletion(store, state, locker, assembler, events, hooks, log, heavyWork);

  const identify = authenticate ?? (config.auth ? jwtAuthenticator(config.auth) : undefined);
  // One budget per caller for the tus path and direct uploads alike.
  const rateLimit = requestRateLimit(config.rateLimitPerMinute, coordination.rateLimiter?.(config.rateLimitPerMinute));
  let tus: TusServer | undefined;
  const creation = creationRecords(completion, state, hooks.onUploadCreate);
  const extensions = [
    // First, so it is the outermost write guard and sees the checksum guard's 460s.
    metricsExtension(metrics),
    // Before everything that reads or creates uploads: they rely on the owner it sets.
    ...(identify ? [ownershipExtension(identify)] : []),
    limitsExtension({
      maxMetadataBytes: config.maxMetadataBytes,
      concurrentUploads: config.maxConcurrentUploads,
      ...(rateLimit ? { rateLimit } : {}),
    }),
    // pre-terminate: after authentication and limits, before anything a DELETE does.
    ...(hookSender ? [hookSender.extension] : []),
    checksumExtension(
      { truncate: (id, offset) => adapter.truncate(id, offset), remove: (id) => store.remove(id) },
      (bytes, reason) => metrics.bytesDiscarded.inc({ reason }, bytes),
    ),
    // Inside the checksum guard: it must see the full disk before a failed chunk is rolled back.
    ...(adapter.kind === 'file' ? [storageFullExtension({ directory: config.dataDir })] : []),
    concatenationExtension({
      store,
      state,
      completion,
      hooks,
      targets,
      maxSize: config.maxSize,
      maxPartials: config.maxPartials,
      // The POST handler owns URL generation (relative/forwarded rules); reuse it.
      urlFor: (req, id) => uploadUrlFor(tus as TusServer, req, id),
      events,
    }),
    integrityExtension(),
    lifecycleExtension({ store }),
    creation.extension,
    partialExpiryExtension(state),
  ];
  for (const extension of extensions) store.use(extension);

  const factsOf = initialFacts(targets, state, log, nodeRequestOf, (req) => clientAddressOf(req, config.trustProxy));
  tus = createTusServer({
    config,
    store,
    locker,
    log,
    hooks: { ...hooks, onUploadCreate: creation.onUploadCreate, onUploadFinish: completion.onUploadFinish },
    factsOf,
    uploadIdOf: (req) => targets.uploadIdOf(req),
    commonLayers: [contextLayer(targets, responseHeaders, (error) => adapter.unreachable?.(error) ?? false)],
    extensions,
    layers: {
      POST: [creationBodyLayer(config.maxSize)],
    },
    replaced: {
      GET: downloadHandler({ store, redirect: config.downloadRedirect }),
      PATCH: patchHandler({
        store,
        locker,
        completion,
        maxSize: config.maxSize,
        hooks,
        finished: (req, res, upload) => emitPostFinish(tus as TusServer, req, res, upload),
        progress: (upload, req) => patchProgress(tus as TusServer, upload, req),
      }),
    },
  });
  observeEvents(metrics, tus, events);
  hookSender?.attach(tus);
  const sweeper = new ExpirySweeper(store, config.expirySweepIntervalMs, log);
  // Finishes what a crash left: unsettled uploads, finals whose partials are complete.
  const recovery = new PeriodicPass(
    async () => completion.recover(await allUploadIds()),
    config.expirySweepIntervalMs,
    log,
    'recovery pass',
  );
  // S3_DIRECT: bytes from the client straight into the bucket, the upload otherwise an ordinary one.
  const presignedParts = config.s3Direct ? adapter.presignedParts : undefined;
  const direct =
    config.s3Direct && presignedParts
      ? directRoutes({
          uploads: new DirectUploads({
            store,
            parts: presignedParts,
            state,
            completion,
            locker,
            hooks,
            ...(identify ? { identify } : {}),
            factsOf,
            ...(rateLimit ? { rateLimit } : {}),
            urlFor: (req, id) => uploadUrlFor(tus as TusServer, req, id),
            // As @tus/server announces a creation: post-create hooks and the creation metric see it.
            created: (req, upload) => emitPostCreate(tus as TusServer, req, upload),
            ...(hookSender ? { terminate: (req: Request, id: string, remove: () => Promise<void>) => hookSender.terminate(req, id, remove) } : {}),
            limits: { maxSize: config.maxSize, maxMetadataBytes: config.maxMetadataBytes, partUrlTtlS: Math.floor(config.s3Direct.partUrlTtlMs / 1000) },
            log,
          }),
          callers: { ...(identify ? { identify } : {}), factsOf, ...(rateLimit ? { rateLimit } : {}) },
          allowOrigin: corsOriginFor(config.corsOrigins),
          unreachable: (error) => adapter.unreachable?.(error) ?? false,
          log,
        })
      : undefined;
  // The IETF draft beside tus 1.0: translated at the edge, announced with 104 once created.
  const draft = new DraftAdapter({
    targets,
    maxSize: config.maxSize,
    expiryMs: config.uploadExpiryMs,
    corsFor: (origin) => {
      const { 'Tus-Resumable': _tus, ...cors } = responseHeaders.for(origin);
      return cors;
    },
    log,
  });
  tus.on(EVENTS.POST_CREATE, (req: Request, _upload: Upload, url: string) => draft.created(nodeRequestOf(req), url));
  const app = createApp({
    targets,
    tus,
    log,
    responseHeaders,
    draftRequests: draft.middleware,
    ...(direct ? { directRoutes: direct } : {}),
    metrics: metrics.registry,
    metricsToken: config.metricsToken,
    servesMetrics: !config.metricsListen,
    webUi: config.webUi
      ? {
          path: config.webUiPath,
          tusPath: config.tusPath,
          log,
          ...(presignedParts ? { direct: { storageOrigin: () => presignedParts.storageOrigin() } } : {}),
        }
      : undefined,
    checkReady: async () => {
      await adapter.checkWritable();
      await coordination.checkReady();
    },
  });

  let httpServer: http.Server | undefined;
  let metricsServer: http.Server | undefined;
  return {
    config,
    app,
    tus,
    store,
    state,
    events,
    metrics,
    sweeper,
    recovery,
    log,
    async listen() {
      await coordination.connected(5_000);
      // Node checks header and request deadlines only this often (30 s by default).
      const connectionsCheckingInterval = config.networkTimeoutMs > 0 ? Math.max(100, Math.min(30_000, config.networkTimeoutMs / 2)) : 30_000;
      httpServer = http.createServer({ connectionsCheckingInterval }, app);
      // Uploads are long requests: never cut a slow PATCH by a request timeout, only a silent one.
      httpServer.requestTimeout = 0;
      closeIdleConnections(httpServer, config.networkTimeoutMs);
      capConnectionsPerClient(httpServer, config.maxConnectionsPerClient);
      await new Promise<void>((resolve, reject) => {
        httpServer?.once('error', reject);
        httpServer?.listen(config.port, config.host, resolve);
      });
      if (config.metricsListen) {
        const { host: metricsHost, port: metricsPort } = config.metricsListen;
        metricsServer = http.createServer(createMetricsApp(metrics.registry, config.metricsToken));
        await new Promise<void>((resolve, reject) => {
          metricsServer?.once('error', reject);
          metricsServer?.listen(metricsPort, metricsHost, resolve);
        });
        const bound = metricsServer.address() as AddressInfo;
        log.info({ port: bound.port, host: bound.address }, 'metrics listening');
      }
      if (config.uploadExpiryMs > 0) sweeper.start();
      recovery.start({ now: true });
      hookDelivery?.start();
      const { port, address } = httpServer.address() as AddressInfo;
      const host = address.includes(':') ? `[${address}]` : address;
      log.info({ port, host: address, tusPath: config.tusPath }, 'tessera listening');
      const metricsAddress = metricsServer?.address() as AddressInfo | undefined;
      return { url: `http://${host}:${port}`, port, ...(metricsAddress ? { metricsUrl: `http://${metricsAddress.address}:${metricsAddress.port}/metrics` } : {}) };
    },
    async close() {
      await sweeper.stop();
      await recovery.stop();
      await hookDelivery?.stop();
      if (metricsServer) {
        const server = metricsServer;
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
      if (!httpServer) return coordination.close();
      const server = httpServer;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const drained = await Promise.race([
        closed.then(() => true),
        new Promise<boolean>((resolve) => setTimeout(resolve, config.shutdownTimeoutMs, false).unref()),
      ]);
      if (!drained) {
        log.warn({ timeoutMs: config.shutdownTimeoutMs }, 'drain timed out; closing remaining connections');
        server.closeAllConnections();
        await closed;
      }
      // Requests cut short above unwind asynchronously; give them a bounded moment to unlock.
      await locker.whenIdle(config.lockDrainTimeoutMs);
      log.info({ heldLocks: locker.heldCount }, 'tessera stopped');
      await coordination.close();
    },
  };
}
