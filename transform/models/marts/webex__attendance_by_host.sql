-- One row per host (e-mail) whose meetings ran: meetings and instances held, participants,
-- invitees who came, person-minutes, and lateness averaged over every participant.
with attendance as (
    select * from {{ ref('webex__attendance') }}
),

people as (
    select * from {{ ref('webex__attendance_participants') }}
),

presence as (
    select
        attendance.host_email,
        sum(people.seconds_attended) as seconds_attended,
        avg(case when people.minutes_late > 0 then people.minutes_late else 0 end)
            as mean_minutes_late
    from people
    inner join attendance on attendance.meeting_instance_id = people.meeting_instance_id
    group by attendance.host_email
),

figures as (
    select
        host_email,
        count(distinct scheduled_meeting_id) as meetings,
        count(*) as meeting_instances,
        sum(participants) as participants,
        sum(invitees_attended) as invitees_attended,
        sum(participants_late) as participants_late
    from attendance
    group by host_email
)

select
    figures.host_email,
    figures.meetings,
    figures.meeting_instances,
    figures.participants,
    figures.invitees_attended,
    {{ webex_round('coalesce(presence.seconds_attended, 0) / 60.0') }} as person_minutes,
    figures.participants_late,
    {{ webex_round('presence.mean_minutes_late') }} as avg_minutes_late
from figures
left join presence on presence.host_email = figures.host_email
