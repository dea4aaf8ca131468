-- One row per meeting instance: who came (participants, invitees among them), for how long
-- (person-minutes) and how late against the scheduled start. An instance whose participants
-- have not been read yet (running, or ended less than 15 minutes ago) has 0 participants.
with instances as (
    select * from {{ ref('stg_webex__meeting_instances') }}
),

scheduled as (
    select * from {{ ref('stg_webex__scheduled_meetings') }}
),

people as (
    select * from {{ ref('webex__attendance_participants') }}
),

figures as (
    select
        meeting_instance_id,
        count(*) as participants,
        sum(case when is_invitee then 1 else 0 end) as invitees_attended,
        sum(case when email is null then 1 else 0 end) as participants_without_email,
        sum(seconds_attended) as seconds_attended,
        sum(case when minutes_late > 0 then 1 else 0 end) as participants_late,
        -- early counts as on time
        avg(case when minutes_late > 0 then minutes_late else 0 end) as mean_minutes_late,
        max(case when minutes_late > 0 then minutes_late else 0 end) as max_minutes_late
    from people
    group by meeting_instance_id
)

select
    instances.meeting_instance_id,
    instances.scheduled_meeting_id,
    instances.series_id,
    coalesce(instances.host_email, scheduled.host_email) as host_email,
    instances.instance_state,
    scheduled.scheduled_start_at,
    instances.started_at,
    instances.ended_at,
    coalesce(figures.participants, 0) as participants,
    coalesce(figures.invitees_attended, 0) as invitees_attended,
    coalesce(figures.participants_without_email, 0) as participants_without_email,
    {{ webex_round('coalesce(figures.seconds_attended, 0) / 60.0') }} as person_minutes,
    coalesce(figures.participants_late, 0) as participants_late,
    {{ webex_round('figures.mean_minutes_late') }} as avg_minutes_late,
    figures.max_minutes_late
from instances
left join scheduled on scheduled.scheduled_meeting_id = instances.scheduled_meeting_id
left join figures on figures.meeting_instance_id = instances.meeting_instance_id
