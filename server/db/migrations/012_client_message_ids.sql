-- A chat message carries an id the app gives it when the user sends it (docs/protocol.md, `message`). The job it
-- started keeps that id, so a message sent again with it (the app re-sends what it never heard answered, after a
-- dropped connection) joins or replays that job instead of starting a second one: no second run, no second charge,
-- however long after the first one ended and whichever instance it reaches.

alter table public.jobs add column client_message_id uuid;

-- One job per message of a user (older clients send no id: any number of those).
create unique index jobs_client_message on public.jobs (user_id, client_message_id) where client_message_id is not null;

-- admit_job (007) with the message's id: under the same lock, a message whose job exists gets 'existing' with that
-- job (whatever its status now), before any other rule; a new job records the id. The six-argument version goes, so
-- a call naming six arguments is not ambiguous between the two.
drop function public.admit_job(uuid, uuid, int, int, text, int);

create function public.admit_job(
  p_user_id uuid,
  p_project_id uuid,
  p_per_user int,
  p_total int,
  p_owner text,
  p_lease_ms int,
  p_client_message_id uuid default null
)
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
  if p_client_message_id is not null then
    select j.id into v_id from public.jobs j where j.user_id = p_user_id and j.client_message_id = p_client_message_id;
    if v_id is not null then
      return query select 'existing'::text, v_id;
      return;
    end if;
  end if;
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
  insert into public.jobs (user_id, project_id, lease_owner, lease_expires_at, client_message_id)
    values (p_user_id, p_project_id, p_owner, now() + make_interval(secs => p_lease_ms / 1000.0), p_client_message_id)
    returning id into v_id;
  return query select 'started'::text, v_id;
end;
$$;

revoke execute on function public.admit_job(uuid, uuid, int, int, text, int, uuid) from public, anon, authenticated;
grant execute on function public.admit_job(uuid, uuid, int, int, text, int, uuid) to service_role;
