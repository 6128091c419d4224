-- Beyond V2: what a generation did besides writing code, on the job's row.
--  * game_check: the last game check of the job (JSON: passed, checks, errors, attempt), null when none ran;
--  * repair_turns: automatic turns the agent was given to fix a failed check (0 or 1 by default);
--  * images_generated: images the agent made with its image tool during the job (counted in cost_usd too).

alter table public.jobs
  add column game_check text,
  add column repair_turns int not null default 0 check (repair_turns >= 0),
  add column images_generated int not null default 0 check (images_generated >= 0);
