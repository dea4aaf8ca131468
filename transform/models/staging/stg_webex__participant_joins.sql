-- One row per time a participant joined a meeting instance: Webex's devices[] of the
-- participant (a person on a laptop and a phone at once has two, overlapping). A
-- participant Webex gives no devices for joined once, from joinedTime to leftTime.
with participants as (
    {{ webex_participant_rows() }}
),

devices as (
    select
        id as participant_id,
        "meetingId" as meeting_instance_id,
        {{ webex_unnest('devices') }} as device
    from participants
),

device_joins as (
    select
        participant_id,
        meeting_instance_id,
        device ->> 'correlationId' as correlation_id,
        device ->> 'deviceType' as device_type,
        device ->> 'audioType' as audio_type,
        device ->> 'callType' as call_type,
        {{ webex_utc("device ->> 'joinedTime'") }} as joined_at,
        {{ webex_utc("device ->> 'leftTime'") }} as left_at
    from devices
),

without_devices as (
    select
        participants.id as participant_id,
        participants."meetingId" as meeting_instance_id,
        cast(null as varchar) as correlation_id,
        cast(null as varchar) as device_type,
        cast(null as varchar) as audio_type,
        cast(null as varchar) as call_type,
        {{ webex_known('participants."joinedTime"') }} as joined_at,
        {{ webex_known('participants."leftTime"') }} as left_at
    from participants
    where not exists (
        select 1
        from device_joins
        where device_joins.participant_id = participants.id
          and device_joins.meeting_instance_id = participants."meetingId"
    )
)

select * from device_joins
union all
select * from without_devices
