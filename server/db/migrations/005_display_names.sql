-- Beyond V2: the name shown on a user's games is one they chose.
--  * Sign-up sends it as user metadata `display_name` (the form suggests one from the e-mail address; the user sees
--    and can change it), and OAuth providers' `full_name` / `name` still count. The e-mail's local part is no longer
--    taken silently: V2 showed it on every public game page as the author's name.
--  * At most 50 characters and not blank (V2's PATCH /api/users/me rule), for new writes; existing rows are kept
--    as they are (NOT VALID), nothing is rewritten.

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
    left(
      coalesce(
        nullif(btrim(new.raw_user_meta_data ->> 'display_name'), ''),
        nullif(btrim(new.raw_user_meta_data ->> 'full_name'), ''),
        nullif(btrim(new.raw_user_meta_data ->> 'name'), '')
      ),
      50
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

alter table public.users
  add constraint users_display_name_length check (display_name is null or char_length(btrim(display_name)) between 1 and 50) not valid;
