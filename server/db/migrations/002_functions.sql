-- Functions the server calls as RPCs (quota, play count) and the sign-up trigger (contract/DATA.md §2).
-- The RPCs are granted to the service role only: they take a user id as an argument, so letting a signed-in user call
-- them through PostgREST would let anyone spend (or read) anyone's quota.

-- Daily quota (UTC day): check and increment in one statement. The row lock of INSERT ... ON CONFLICT DO UPDATE
-- serialises concurrent callers, and each re-evaluates the WHERE against the row as the previous caller left it,
-- so N parallel calls against limit L allow exactly min(N, L - used). p_limit < 0 means unlimited.
create or replace function public.try_consume_quota(p_user_id uuid, p_field text, p_limit int)
returns table (allowed boolean, current_count int)
language plpgsql volatile
set search_path = ''
as $$
declare
  today date := (now() at time zone 'utc')::date;
  is_projects boolean := p_field = 'projects_created';
  counted int;
begin
  if p_field is null or p_field not in ('projects_created', 'messages_sent') then
    raise exception 'unknown quota field: %', p_field using errcode = '22023';
  end if;

  -- The insert branch below counts 1 unconditionally, so a zero limit has to be answered before it.
  if p_limit = 0 then
    return query
      select false, coalesce(max(case when is_projects then q.projects_created else q.messages_sent end), 0)
      from public.usage_quotas q where q.user_id = p_user_id and q.quota_date = today;
    return;
  end if;

  insert into public.usage_quotas as q (user_id, quota_date, projects_created, messages_sent)
  values (p_user_id, today, case when is_projects then 1 else 0 end, case when is_projects then 0 else 1 end)
  on conflict (user_id, quota_date) do update
    set projects_created = q.projects_created + case when is_projects then 1 else 0 end,
        messages_sent = q.messages_sent + case when is_projects then 0 else 1 end
    where p_limit < 0 or (case when is_projects then q.projects_created else q.messages_sent end) < p_limit
  returning case when is_projects then q.projects_created else q.messages_sent end into counted;

  if counted is not null then
    return query select true, counted;
    return;
  end if;

  -- Refused: report the count as it stands (the row exists and is locked by the statement above until commit).
  return query
    select false, case when is_projects then q.projects_created else q.messages_sent end
    from public.usage_quotas q where q.user_id = p_user_id and q.quota_date = today;
end
$$;

-- Today's (UTC) usage; zeros when nothing was consumed yet. Always exactly one row.
create or replace function public.get_quota(p_user_id uuid)
returns table (projects_created int, messages_sent int)
language sql stable
set search_path = ''
as $$
  select coalesce(max(q.projects_created), 0)::int, coalesce(max(q.messages_sent), 0)::int
  from public.usage_quotas q
  where q.user_id = p_user_id and q.quota_date = (now() at time zone 'utc')::date
$$;

-- One play of a public or unlisted game, atomically. Returns whether such a game exists.
create or replace function public.increment_play_count(game_id uuid)
returns boolean
language sql volatile
set search_path = ''
as $$
  with played as (
    update public.published_games g set play_count = g.play_count + 1
    where g.id = game_id and g.visibility in ('public', 'unlisted')
    returning 1
  )
  select exists (select 1 from played)
$$;

revoke execute on function public.try_consume_quota(uuid, text, int) from public, anon, authenticated;
revoke execute on function public.get_quota(uuid) from public, anon, authenticated;
revoke execute on function public.increment_play_count(uuid) from public, anon, authenticated;
grant execute on function public.try_consume_quota(uuid, text, int) to service_role;
grant execute on function public.get_quota(uuid) to service_role;
grant execute on function public.increment_play_count(uuid) to service_role;

-- A public.users row for every new auth user (GoTrue on Supabase, the embedded auth server locally).
-- SECURITY DEFINER: on Supabase the inserting role is GoTrue's, which has no rights on public tables.
-- Display name from full_name / name (OAuth providers) or the e-mail's local part; avatar from avatar_url / picture.
create or replace function public.handle_new_user() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.users (id, email, display_name, avatar_url)
  values (
    new.id,
    -- users.email is NOT NULL but GoTrue allows phone-only accounts: give those a placeholder that cannot collide.
    coalesce(new.email, new.id::text || '@users.invalid'),
    coalesce(
      nullif(new.raw_user_meta_data ->> 'full_name', ''),
      nullif(new.raw_user_meta_data ->> 'name', ''),
      nullif(split_part(new.email, '@', 1), '')
    ),
    coalesce(
      nullif(new.raw_user_meta_data ->> 'avatar_url', ''),
      nullif(new.raw_user_meta_data ->> 'picture', '')
    )
  )
  on conflict (id) do nothing;
  return new;
end
$$;

revoke execute on function public.handle_new_user() from public, anon, authenticated;

drop trigger if exists on_auth_user_created on auth.users;
create trigger on_auth_user_created after insert on auth.users
  for each row execute function public.handle_new_user();
