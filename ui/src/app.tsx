// The shell: sign-in gate, navigation by role, live-connection status, and the page for the URL.
import { useEffect, useState } from 'preact/hooks';
import { api, type ApiFailure } from './api';
import { ErrorBox, Loading } from './components/states';
import { connectLive, disconnectLive, useLiveStatus } from './live';
import { ApprovalsPage } from './pages/approvals';
import { AuditPage } from './pages/audit';
import { CheckpointsPage } from './pages/checkpoints';
import { FleetModelPage, FleetPage } from './pages/fleet';
import { InventoryPage } from './pages/inventory';
import { ModelPage } from './pages/model';
import { SignInPage } from './pages/signin';
import { VersionPage } from './pages/version';
import { WebhooksPage } from './pages/webhooks';
import { can } from './roles';
import { href, navigate, useRoute, type Route } from './router';
import { session } from './session';
import type { WhoAmI } from './types';

function useSession(): WhoAmI | null {
  const [me, setMe] = useState(session.me());
  useEffect(() => session.subscribe(() => setMe(session.me())), []);
  return me;
}

export function App() {
  const route = useRoute();
  const me = useSession();
  const [restoring, setRestoring] = useState(() => session.token() !== null && session.me() === null);
  const [restoreError, setRestoreError] = useState<ApiFailure | null>(null);

  useEffect(() => {
    if (!restoring) return;
    api<WhoAmI>('/v1/whoami').then(
      (who) => {
        session.restore(who);
        setRestoring(false);
      },
      (err: ApiFailure) => {
        setRestoreError(err);
        setRestoring(false);
      },
    );
  }, [restoring]);

  useEffect(() => {
    if (me) connectLive();
    else disconnectLive();
    return disconnectLive;
  }, [me?.id]);

  useEffect(() => {
    const title = pageTitle(route);
    document.title = `${title} · modelgate`;
  }, [route]);

  if (restoring) return <Loading what="your session" />;
  if (!me) {
    return (
      <Shell me={null}>
        {restoreError && restoreError.status !== 401 && <ErrorBox error={restoreError} title="Could not check your token" />}
        <SignInPage expired={session.wasExpired()} />
      </Shell>
    );
  }
  return (
    <Shell me={me}>
      <Page route={route} me={me} />
    </Shell>
  );
}

function pageTitle(route: Route): string {
  switch (route.page) {
    case 'model':
      return route.name;
    case 'version':
      return `${route.name}@v${route.version}`;
    case 'fleet-model':
      return `Fleet of ${route.name}`;
    case 'signin':
      return 'Sign in';
    case 'notfound':
      return 'Not found';
    default:
      return route.page[0]!.toUpperCase() + route.page.slice(1);
  }
}

function Page({ route, me }: { route: Route; me: WhoAmI }) {
  switch (route.page) {
    case 'inventory':
    case 'signin':
      return <InventoryPage params={route.params} me={me} />;
    case 'model':
      return <ModelPage name={route.name} me={me} />;
    case 'version':
      return <VersionPage name={route.name} version={route.version} me={me} />;
    case 'approvals':
      return <ApprovalsPage me={me} />;
    case 'audit':
      return <AuditPage params={route.params} me={me} />;
    case 'checkpoints':
      return <CheckpointsPage me={me} />;
    case 'fleet':
      return <FleetPage />;
    case 'fleet-model':
      return <FleetModelPage name={route.name} params={route.params} />;
    case 'webhooks':
      return <WebhooksPage me={me} />;
    default:
      return (
        <section>
          <h1>Page not found</h1>
          <p>
            There is no console page at this address. <a href={href.inventory()}>Go to the inventory</a>.
          </p>
        </section>
      );
  }
}

function Shell({ me, children }: { me: WhoAmI | null; children: preact.ComponentChildren }) {
  const live = useLiveStatus();
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={href.inventory()}>
          modelgate
        </a>
        {me && (
          <nav aria-label="Main">
            <a href={href.inventory()}>Inventory</a>
            {can.approve(me) && <a href={href.approvals()}>Approvals</a>}
            <a href={href.fleet()}>Fleet</a>
            {can.readAudit(me) && <a href={href.audit()}>Audit</a>}
            {can.readAudit(me) && <a href={href.checkpoints()}>Checkpoints</a>}
            {can.manageWebhooks(me) && <a href={href.webhooks()}>Webhooks</a>}
          </nav>
        )}
        {me && (
          <div class="who">
            <span class={`live live-${live}`} role="status" title={`live updates: ${live}`} aria-label={`live updates ${live}`}>
              ● {live}
            </span>
            <span class="identity" data-testid="identity">
              <span class="name">{me.name}</span> <span class="badge role">{me.role}</span>{' '}
              <span class="badge scope">scope {me.scope}</span>
            </span>
            <button
              type="button"
              onClick={() => {
                session.signOut();
                navigate(href.signin());
              }}
            >
              Sign out
            </button>
          </div>
        )}
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}
