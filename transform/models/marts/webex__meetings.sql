-- One row per scheduled meeting, with what happened: the instances that ran for it joined
-- through scheduledMeetingId (a restarted meeting ran twice: it starts with its first
-- instance, ends with its last, and its minutes are the sum of both).
with scheduled as (
    select * from {{ ref('stg_webex__scheduled_meetings') }}
),

instances as (
    select * from {{ ref('stg_webex__meeting_instances') }}
),

live_series as (
    select series_id from {{ ref('stg_webex__series') }}
),

ran as (
    select
        scheduled_meeting_id,
        count(*) as instance_count,
        sum(case when instance_state = 'ended' then 1 else 0 end) as ended_count,
        min(started_at) as actual_start_at,
        max(ended_at) as last_end_at,
        sum(minutes) as ended_minutes
    from instances
    group by scheduled_meeting_id
),

meetings as (
    select
        scheduled.*,
        coalesce(ran.instance_count, 0) as instance_count,
        ran.actual_start_at,
        -- what happened at the end is known once every instance has ended
        case when ran.ended_count = ran.instance_count then ran.last_end_at end as actual_end_at,
        case when ran.ended_count = ran.instance_count then ran.ended_minutes end as minutes_held,
        case
            when ran.ended_count < ran.instance_count then 'in_progress'
            when ran.instance_count > 0 then 'held'
            -- ended, but its instance is not listed yet (Webex lists it minutes later)
            when scheduled.meeting_state = 'ended' then 'held'
            when scheduled.meeting_state = 'missed' then 'missed'
            else 'upcoming'
        end as status
    from scheduled
    left join ran on ran.scheduled_meeting_id = scheduled.scheduled_meeting_id
)

select
    meetings.scheduled_meeting_id,
    meetings.series_id,
    meetings.title,
    meetings.host_email,
    meetings.host_display_name,
    meetings.scheduled_type,
    meetings.status,
    meetings.meeting_state,
    meetings.is_modified,
    cast(meetings.scheduled_start_at as date) as meeting_date,
    meetings.scheduled_start_at,
    meetings.scheduled_end_at,
    meetings.scheduled_minutes,
    meetings.actual_start_at,
    meetings.actual_end_at,
    meetings.instance_count,
    meetings.minutes_held,
    {{ webex_minutes_between('meetings.scheduled_start_at', 'meetings.actual_start_at') }}
        as minutes_late,
    {{ webex_minutes_between('meetings.scheduled_end_at', 'meetings.actual_end_at') }}
        as minutes_over,
    live_series.series_id is null as series_is_deleted
from meetings
left join live_series on live_series.series_id = meetings.series_id
