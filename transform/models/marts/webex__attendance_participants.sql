-- One row per participant of a meeting instance: when they first came, how late against
-- the scheduled start, and the minutes they were there (their joins merged where they
-- overlap: a laptop and a phone at once count once).
with participants as (
    select * from {{ ref('stg_webex__participants') }}
),

joins as (
    select *
    from {{ ref('stg_webex__participant_joins') }}
    where joined_at is not null
),

instances as (
    select * from {{ ref('stg_webex__meeting_instances') }}
),

scheduled as (
    select * from {{ ref('stg_webex__scheduled_meetings') }}
),

-- how far the participant's earlier joins reach, for each join in order of start
reaches as (
    select
        *,
        max(left_at) over (
            partition by meeting_instance_id, participant_id
            order by joined_at, left_at
            rows between unbounded preceding and 1 preceding
        ) as reach
    from joins
    where left_at is not null
),

-- a join that starts after every earlier one has ended opens a new stretch of presence
stretches as (
    select
        *,
        sum(case when reach is null or joined_at > reach then 1 else 0 end) over (
            partition by meeting_instance_id, participant_id
            order by joined_at, left_at
            rows between unbounded preceding and current row
        ) as stretch
    from reaches
),

presence as (
    select
        meeting_instance_id,
        participant_id,
        stretch,
        min(joined_at) as stretch_start,
        max(left_at) as stretch_end
    from stretches
    group by meeting_instance_id, participant_id, stretch
),

seconds as (
    select
        meeting_instance_id,
        participant_id,
        sum({{ dbt.datediff('stretch_start', 'stretch_end', 'second') }}) as seconds_attended
    from presence
    group by meeting_instance_id, participant_id
),

visits as (
    select
        meeting_instance_id,
        participant_id,
        count(*) as join_count,
        min(joined_at) as first_joined_at,
        max(left_at) as last_left_at
    from joins
    group by meeting_instance_id, participant_id
)

select
    participants.meeting_instance_id,
    participants.participant_id,
    instances.scheduled_meeting_id,
    participants.series_id,
    participants.email,
    participants.display_name,
    participants.is_host,
    participants.is_cohost,
    participants.is_invitee,
    coalesce(visits.join_count, 0) as join_count,
    visits.first_joined_at,
    visits.last_left_at,
    seconds.seconds_attended,
    {{ webex_round('seconds.seconds_attended / 60.0') }} as minutes_attended,
    scheduled.scheduled_start_at,
    {{ webex_minutes_between('scheduled.scheduled_start_at', 'visits.first_joined_at') }}
        as minutes_late
from participants
left join visits
    on visits.meeting_instance_id = participants.meeting_instance_id
    and visits.participant_id = participants.participant_id
left join seconds
    on seconds.meeting_instance_id = participants.meeting_instance_id
    and seconds.participant_id = participants.participant_id
left join instances on instances.meeting_instance_id = participants.meeting_instance_id
left join scheduled on scheduled.scheduled_meeting_id = instances.scheduled_meeting_id
