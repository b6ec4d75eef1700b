use super::*;

fn task() -> RtmpTask {
    crate::protocol::json::FromJson::from_json(&crate::protocol::json::Json::from(serde_json::json!({
        "taskId": "task_1",
        "streamUrl": "rtmp://cdn.example.com/live/x",
        "record": false,
        "layout": {
            "canvas": {"width": 1280, "height": 720, "color": 16777215},
            "users": [
                {"uid": 100, "x": 0, "y": 0, "width": 640, "height": 360, "adaption": 1, "zOrder": 1, "pushAudio": true, "pushVideo": true},
                {"uid": 200, "x": 640, "y": 0, "width": 640, "height": 360}
            ],
            "images": [{"url": "https://example.com/bg.png", "x": 0, "y": 360, "width": 480, "height": 360}]
        },
        "config": {"audioParam": {"bitRate": 64, "channels": 2, "codecProfile": 0, "sampleRate": 48000}},
        "extraInfo": ""
    })))
    .unwrap()
}

fn field_of(t: &RtmpTask) -> String {
    check_task("t", t).unwrap_err().field
}

#[test]
fn the_seed_example_shape_is_accepted_with_defaults() {
    let t = task();
    check_task("t", &t).unwrap();
    let u = t.layout.users[1];
    assert_eq!(
        (u.adaption, u.z_order, u.push_audio, u.push_video),
        (ADAPTION_FIT, 0, true, true)
    );
    // The seed puts singleVideoNoTrans inside audioParam; both places parse.
    let v: RtmpTask = crate::protocol::json::FromJson::from_json(&crate::protocol::json::Json::from(serde_json::json!({
        "taskId": "a", "streamUrl": "rtmp://h/x",
        "layout": {"canvas": {"width": 640, "height": 360}},
        "config": {"audioParam": {"bitRate": 64, "singleVideoNoTrans": false}, "singleVideoNoTrans": true}
    })))
    .unwrap();
    check_task("t", &v).unwrap();
    assert_eq!(v.config.audio_param.unwrap().sample_rate, 48000);
}

#[test]
fn every_boundary() {
    let ok = |f: &dyn Fn(&mut RtmpTask)| {
        let mut t = task();
        f(&mut t);
        check_task("t", &t).map_err(|e| e.message())
    };
    let bad = |f: &dyn Fn(&mut RtmpTask)| {
        let mut t = task();
        f(&mut t);
        field_of(&t)
    };
    // taskId
    assert!(ok(&|t| t.task_id = "a".repeat(64)).is_ok());
    assert_eq!(bad(&|t| t.task_id = "a".repeat(65)), "t.taskId");
    assert_eq!(bad(&|t| t.task_id = String::new()), "t.taskId");
    assert_eq!(bad(&|t| t.task_id = "a-b".into()), "t.taskId");
    // streamUrl
    assert!(ok(&|t| t.stream_url = "rtmps://h/x".into()).is_ok());
    assert_eq!(bad(&|t| t.stream_url = "http://h/x".into()), "t.streamUrl");
    assert_eq!(bad(&|t| t.stream_url = "rtmp://".into()), "t.streamUrl");
    assert_eq!(
        bad(&|t| t.stream_url = "rtmp://h/a b".into()),
        "t.streamUrl"
    );
    assert_eq!(
        bad(&|t| t.stream_url = format!("rtmp://{}", "h".repeat(1020))),
        "t.streamUrl"
    );
    // canvas
    assert!(ok(&|t| {
        t.layout.canvas.width = 1920;
        t.layout.images.clear();
        t.layout.users.clear()
    })
    .is_ok());
    assert_eq!(
        bad(&|t| t.layout.canvas.width = 1922),
        "t.layout.canvas.width"
    );
    assert_eq!(
        bad(&|t| t.layout.canvas.width = 1281),
        "t.layout.canvas.width"
    );
    assert_eq!(
        bad(&|t| t.layout.canvas.height = 14),
        "t.layout.canvas.height"
    );
    assert!(ok(&|t| t.layout.canvas.color = 0xFFFFFF).is_ok());
    assert_eq!(
        bad(&|t| t.layout.canvas.color = 0x1000000),
        "t.layout.canvas.color"
    );
    // users
    assert!(ok(&|t| t.layout.users[1].x = 640).is_ok());
    assert_eq!(bad(&|t| t.layout.users[1].x = 641), "t.layout.users[1].x");
    assert_eq!(bad(&|t| t.layout.users[1].y = 361), "t.layout.users[1].y");
    assert_eq!(
        bad(&|t| t.layout.users[0].width = 0),
        "t.layout.users[0].width"
    );
    assert_eq!(
        bad(&|t| t.layout.users[0].height = 721),
        "t.layout.users[0].height"
    );
    assert_eq!(
        bad(&|t| t.layout.users[0].adaption = 2),
        "t.layout.users[0].adaption"
    );
    assert!(ok(&|t| t.layout.users[0].z_order = 100).is_ok());
    assert_eq!(
        bad(&|t| t.layout.users[0].z_order = 101),
        "t.layout.users[0].zOrder"
    );
    assert_eq!(
        bad(&|t| t.layout.users[0].z_order = -1),
        "t.layout.users[0].zOrder"
    );
    assert_eq!(
        bad(&|t| t.layout.users[1].uid = 100),
        "t.layout.users[1].uid"
    );
    assert_eq!(
        bad(&|t| {
            let u = t.layout.users[0];
            t.layout.users = (0..17).map(|i| LayoutUser { uid: i, ..u }).collect()
        }),
        "t.layout.users"
    );
    // images
    assert_eq!(
        bad(&|t| t.layout.images[0].url = "ftp://x".into()),
        "t.layout.images[0].url"
    );
    assert_eq!(
        bad(&|t| t.layout.images[0].width = 1281),
        "t.layout.images[0].width"
    );
    assert_eq!(
        bad(&|t| t.layout.images[0].adaption = 9),
        "t.layout.images[0].adaption"
    );
    assert_eq!(
        bad(&|t| {
            let i = t.layout.images[0].clone();
            t.layout.images = vec![i; 5]
        }),
        "t.layout.images"
    );
    // audioParam
    fn ap(f: fn(&mut AudioParam)) -> impl Fn(&mut RtmpTask) {
        move |t: &mut RtmpTask| {
            let mut a = t.config.audio_param.unwrap();
            f(&mut a);
            t.config.audio_param = Some(a);
        }
    }
    assert!(ok(&ap(|a| a.bit_rate = 10)).is_ok());
    assert!(ok(&ap(|a| a.bit_rate = 192)).is_ok());
    assert_eq!(bad(&ap(|a| a.bit_rate = 9)), "t.config.audioParam.bitRate");
    assert_eq!(
        bad(&ap(|a| a.bit_rate = 193)),
        "t.config.audioParam.bitRate"
    );
    assert_eq!(bad(&ap(|a| a.channels = 3)), "t.config.audioParam.channels");
    assert_eq!(
        bad(&ap(|a| a.codec_profile = 2)),
        "t.config.audioParam.codecProfile"
    );
    assert!(ok(&ap(|a| a.sample_rate = 32000)).is_ok());
    assert_eq!(
        bad(&ap(|a| a.sample_rate = 22050)),
        "t.config.audioParam.sampleRate"
    );
    // the video's frame rate and bit rate (ZEGO's outputFPS / outputBitrate)
    assert!(ok(&|t| t.config.video_fps = Some(1)).is_ok());
    assert!(ok(&|t| t.config.video_fps = Some(60)).is_ok());
    assert_eq!(bad(&|t| t.config.video_fps = Some(0)), "t.config.videoFps");
    assert_eq!(bad(&|t| t.config.video_fps = Some(61)), "t.config.videoFps");
    assert!(ok(&|t| t.config.video_bitrate = Some(10)).is_ok());
    assert!(ok(&|t| t.config.video_bitrate = Some(20_000)).is_ok());
    assert_eq!(
        bad(&|t| t.config.video_bitrate = Some(9)),
        "t.config.videoBitrate"
    );
    assert_eq!(
        bad(&|t| t.config.video_bitrate = Some(20_001)),
        "t.config.videoBitrate"
    );
    // extraInfo
    assert_eq!(bad(&|t| t.extra_info = "x".repeat(4097)), "t.extraInfo");
    // the message names the allowed range
    let e = check_task("t", &{
        let mut t = task();
        t.config.audio_param.as_mut().unwrap().bit_rate = 500;
        t
    })
    .unwrap_err();
    assert_eq!(
        e.message(),
        "t.config.audioParam.bitRate must be 10 to 192 (kbit/s)"
    );
}

#[test]
fn requests() {
    let one = TasksReq {
        rtmp_tasks: vec![task()],
    };
    check_tasks(&one).unwrap();
    assert_eq!(
        check_tasks(&TasksReq { rtmp_tasks: vec![] })
            .unwrap_err()
            .field,
        "rtmpTasks"
    );
    assert_eq!(
        check_tasks(&TasksReq {
            rtmp_tasks: vec![task(), task()]
        })
        .unwrap_err()
        .field,
        "rtmpTasks[1].taskId"
    );
    assert_eq!(
        check_tasks(&TasksReq {
            rtmp_tasks: vec![task(); 9]
        })
        .unwrap_err()
        .field,
        "rtmpTasks"
    );
    check_delete(&DeleteTasksReq {
        task_ids: vec!["a_1".into()],
    })
    .unwrap();
    assert_eq!(
        check_delete(&DeleteTasksReq { task_ids: vec![] })
            .unwrap_err()
            .field,
        "taskIds"
    );
    assert_eq!(
        check_delete(&DeleteTasksReq {
            task_ids: vec!["ok".into(), "no!".into()]
        })
        .unwrap_err()
        .field,
        "taskIds[1]"
    );
}
