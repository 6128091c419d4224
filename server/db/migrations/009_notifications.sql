-- Being told when a long job ends (issue 17, item 8): the in-app list and the web-push subscriptions.
--  * notifications: one row per ended job (a generation, a promo video, publishing help), written by the server
--    (service role); its user reads it and marks it read, and can change nothing else of it (column privileges).
--    `title`/`message` are written in the user's language when the job ended (V2's fields, for V2 clients and push);
--    `event` and `params` let the app say it again in the language it speaks now.
--  * push_subscriptions: a browser's push endpoint and its keys (RFC 8291), with the language its notifications are
--    written in. An endpoint belongs to one browser, so to one user at a time: subscribing it again (another user
--    signed in on that browser) moves it, so nobody's notifications reach someone else's screen (V2 kept one row per
--    user and endpoint, and the first user's pushes went on arriving). Its user sees it; the server writes it.

create table public.notifications (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references public.users (id) on delete cascade,
  type text not null default 'project' check (type in ('project', 'system', 'social')),
  title text,
  message text not null,
  icon text not null default 'default',
  project_id uuid references public.projects (id) on delete set null,
  -- The job (or render, or publishing-help request) it is about: one notification per job, however often its end is
  -- reported. Not a foreign key: a render is not a jobs row, and the notice outlives a deleted job.
  job_id uuid,
  event text,
  params jsonb not null default '{}'::jsonb check (jsonb_typeof(params) = 'object'),
  read boolean not null default false,
  read_at timestamptz,
  created_at timestamptz not null default now(),
  unique (user_id, job_id)
);
create index notifications_user_created_idx on public.notifications (user_id, created_at desc);
create index notifications_user_unread_idx on public.notifications (user_id) where not read;

alter table public.notifications enable row level security;
create policy notifications_select_own on public.notifications for select to authenticated
  using (user_id = (select auth.uid()));
create policy notifications_update_own on public.notifications for update to authenticated
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));

create table public.push_subscriptions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references public.users (id) on delete cascade,
  endpoint text not null unique check (endpoint ~ '^https?://'),
  p256dh text not null,
  auth text not null,
  user_agent text,
  language text not null default 'en' check (language in ('ja', 'en', 'zh', 'ko', 'es', 'pt')),
  created_at timestamptz not null default now(),
  last_used_at timestamptz
);
create index push_subscriptions_user_idx on public.push_subscriptions (user_id);

alter table public.push_subscriptions enable row level security;
create policy push_subscriptions_select_own on public.push_subscriptions for select to authenticated
  using (user_id = (select auth.uid()));

revoke all on public.notifications, public.push_subscriptions from anon, authenticated;
grant select, insert, update, delete on public.notifications, public.push_subscriptions to service_role;
grant select on public.notifications, public.push_subscriptions to authenticated;
-- Marking read is the only change a user makes.
grant update (read, read_at) on public.notifications to authenticated;
