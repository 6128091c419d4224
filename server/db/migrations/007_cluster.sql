-- Several server instances on one database (docs/design.md, "Several instances"):
--  * a running job has a lease: the instance that runs it (lease_owner) renews lease_expires_at on a heartbeat; a job
--    whose lease ran out belongs to an instance that died, and another instance fails it (SERVER_RESTART);
--  * admission (one running job per user, a total for the service) is one function under one transaction-scoped
--    advisory lock, so two instances admitting at the same moment take turns instead of both counting "0 running";
--  * server_instances: who is up, with which execution backend and data directory (checked at boot: the local backend
--    may not be shared between machines);
--  * server_secrets: what every instance must agree on (the embedded issuer's signing key, the preview-URL secret);
--  * rate_limit_windows: per-user limits counted in the database, so a user's sockets on three instances share one.
-- Nothing here is reachable by anon or authenticated: RLS on with no policy, and no privilege.

alter table public.jobs
  add column lease_owner text,
  add column lease_expires_at timestamptz;

-- The sweep looks for active jobs whose lease ran out.
create index jobs_active_lease on public.jobs (lease_expires_at) where status in ('pending', 'processing');

create table public.server_instances (
  id text primary key,
  backend text not null,
  host text not null,
  data_dir text not null,
  started_at timestamptz not null default now(),
  expires_at timestamptz not null
);

create table public.server_secrets (
  name text primary key,
  value text not null,
  created_at timestamptz not null default now()
);

create table public.rate_limit_windows (
  key text not null,
  window_start timestamptz not null,
  hits int not null default 0,
  primary key (key, window_start)
);

alter table public.server_instances enable row level security;
alter table public.server_secrets enable row level security;
alter table public.rate_limit_windows enable row level security;
revoke all on public.server_instances, public.server_secrets, public.rate_limit_windows from anon, authenticated;
grant select, insert, update, delete on public.server_instances, public.server_secrets, public.rate_limit_windows to service_role;

-- Admission, atomically across instances. Returns one row per job it is about:
--   'existing'     the project's active job (join it; nothing started),
--   'user-limit'   each of the user's active jobs (the user has p_per_user already),
--   'system-limit' one row without a job (p_total active in the whole service),
--   'started'      the new pending job, leased to p_owner for p_lease_ms.
create or replace function public.admit_job(p_user_id uuid, p_project_id uuid, p_per_user int, p_total int, p_owner text, p_lease_ms int)
returns table (kind text, job_id uuid)
language plpgsql
security definer
set search_path = public
as $$
declare
  v_id uuid;
begin
  -- One admission at a time in the whole service: the counts below stay true until this transaction commits.
  perform pg_advisory_xact_lock(1145335143); -- "DCad"
  select j.id into v_id from public.jobs j where j.project_id = p_project_id and j.status in ('pending', 'processing') limit 1;
  if v_id is not null then
    return query select 'existing'::text, v_id;
    return;
  end if;
  if (select count(*) from public.jobs j where j.user_id = p_user_id and j.status in ('pending', 'processing')) >= p_per_user then
    return query select 'user-limit'::text, j.id from public.jobs j
      where j.user_id = p_user_id and j.status in ('pending', 'processing') order by j.created_at;
    return;
  end if;
  if (select count(*) from public.jobs j where j.status in ('pending', 'processing')) >= p_total then
    return query select 'system-limit'::text, null::uuid;
    return;
  end if;
  insert into public.jobs (user_id, project_id, lease_owner, lease_expires_at)
    values (p_user_id, p_project_id, p_owner, now() + make_interval(secs => p_lease_ms / 1000.0))
    returning id into v_id;
  return query select 'started'::text, v_id;
end;
$$;

-- The heartbeat of one instance: extends the lease of every active job it owns (and its own registration) and
-- returns the ids it still owns, so a job it believes it runs but another instance has already failed stops.
create or replace function public.renew_leases(p_owner text, p_lease_ms int)
returns table (job_id uuid)
language plpgsql
security definer
set search_path = public
as $$
begin
  update public.server_instances set expires_at = now() + make_interval(secs => p_lease_ms / 1000.0) where id = p_owner;
  return query
    update public.jobs j set lease_expires_at = now() + make_interval(secs => p_lease_ms / 1000.0)
    where j.lease_owner = p_owner and j.status in ('pending', 'processing')
    returning j.id;
end;
$$;

-- A fixed-window counter: true (and counted) while `key` has fewer than p_limit hits in the current window.
create or replace function public.take_rate_limit(p_key text, p_limit int, p_window_ms int)
returns boolean
language plpgsql
security definer
set search_path = public
as $$
declare
  v_window timestamptz := to_timestamp(floor(extract(epoch from now()) * 1000 / p_window_ms) * p_window_ms / 1000.0);
  v_hits int;
begin
  insert into public.rate_limit_windows as w (key, window_start, hits) values (p_key, v_window, 1)
    on conflict (key, window_start) do update set hits = w.hits + 1 where w.hits < p_limit
    returning hits into v_hits;
  -- Old windows go now and then (one call in a hundred), never in a job of their own.
  if random() < 0.01 then
    delete from public.rate_limit_windows where window_start < now() - make_interval(secs => 2 * p_window_ms / 1000.0);
  end if;
  return v_hits is not null;
end;
$$;

revoke execute on function public.admit_job(uuid, uuid, int, int, text, int) from public, anon, authenticated;
revoke execute on function public.renew_leases(text, int) from public, anon, authenticated;
revoke execute on function public.take_rate_limit(text, int, int) from public, anon, authenticated;
grant execute on function public.admit_job(uuid, uuid, int, int, text, int) to service_role;
grant execute on function public.renew_leases(text, int) to service_role;
grant execute on function public.take_rate_limit(text, int, int) to service_role;
