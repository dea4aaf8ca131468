-- One row per host and UTC day (of the meetings' scheduled start) with meetings that day.
select
    host_email,
    meeting_date,
    max(host_display_name) as host_display_name,
    count(*) as meetings_scheduled,
    sum(case when status = 'held' then 1 else 0 end) as meetings_held,
    sum(case when status = 'missed' then 1 else 0 end) as meetings_missed,
    sum(case when status = 'upcoming' then 1 else 0 end) as meetings_upcoming,
    coalesce(sum(minutes_held), 0) as minutes_held,
    coalesce(sum(case when minutes_late > 0 then minutes_late end), 0) as minutes_late
from {{ ref('webex__meetings') }}
group by host_email, meeting_date
