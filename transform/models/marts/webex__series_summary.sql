-- One row per series: live ones, and deleted ones whose past meetings stay.
with series as (
    select * from {{ ref('stg_webex__series') }}
),

meetings as (
    select * from {{ ref('webex__meetings') }}
),

figures as (
    select
        series_id,
        count(*) as occurrences_scheduled,
        sum(case when status = 'upcoming' then 1 else 0 end) as occurrences_upcoming,
        sum(case when status = 'in_progress' then 1 else 0 end) as occurrences_in_progress,
        sum(case when status = 'held' then 1 else 0 end) as occurrences_held,
        sum(case when status = 'missed' then 1 else 0 end) as occurrences_missed,
        sum(case when instance_count > 1 then 1 else 0 end) as occurrences_restarted,
        {{ webex_round('percentile_cont(0.5) within group (order by minutes_late)') }}
            as median_minutes_late,
        coalesce(sum(minutes_held), 0) as total_minutes_held,
        min(scheduled_start_at) as first_scheduled_start_at,
        max(actual_start_at) as last_held_at
    from meetings
    group by series_id
),

-- who a deleted series belonged to: its latest meeting says
latest_meeting as (
    select *
    from (
        select
            series_id,
            title,
            host_email,
            host_display_name,
            scheduled_type,
            row_number() over (
                partition by series_id order by scheduled_start_at desc
            ) as recency
        from meetings
    ) as ranked
    where recency = 1
),

known as (
    select series_id from series
    union
    select series_id from figures
)

select
    known.series_id,
    coalesce(series.title, latest_meeting.title) as title,
    coalesce(series.host_email, latest_meeting.host_email) as host_email,
    coalesce(series.host_display_name, latest_meeting.host_display_name) as host_display_name,
    coalesce(series.scheduled_type, latest_meeting.scheduled_type) as scheduled_type,
    series.recurrence,
    coalesce(series.series_state, 'deleted') as series_state,
    series.series_id is null as is_deleted,
    coalesce(figures.occurrences_scheduled, 0) as occurrences_scheduled,
    coalesce(figures.occurrences_upcoming, 0) as occurrences_upcoming,
    coalesce(figures.occurrences_in_progress, 0) as occurrences_in_progress,
    coalesce(figures.occurrences_held, 0) as occurrences_held,
    coalesce(figures.occurrences_missed, 0) as occurrences_missed,
    coalesce(figures.occurrences_restarted, 0) as occurrences_restarted,
    {{ webex_round(
        'figures.occurrences_held * 1.0'
        ~ ' / nullif(figures.occurrences_held + figures.occurrences_missed, 0)',
        4
    ) }} as held_rate,
    figures.median_minutes_late,
    coalesce(figures.total_minutes_held, 0) as total_minutes_held,
    figures.first_scheduled_start_at,
    figures.last_held_at
from known
left join series on series.series_id = known.series_id
left join figures on figures.series_id = known.series_id
left join latest_meeting on latest_meeting.series_id = known.series_id
