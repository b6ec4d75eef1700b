//! The ffmpeg command line a task's layout becomes.

use super::*;

#[test]
fn ffmpeg_args_shape() {
    let mut t = task(
        "a",
        "rtmp://cdn/live/k",
        vec![
            user(1, 0, 0, 640, 360, ADAPTION_FILL, 5),
            user(2, 640, 0, 640, 360, ADAPTION_FIT, 1),
            user(3, 0, 360, 640, 360, ADAPTION_FIT, 0), // not live
        ],
    );
    t.layout.users[1].push_audio = false;
    t.config.audio_param = audio(96, 1, 1);
    let spec = spec(
        t,
        &[
            (2, "rtmp://m/live/r.2?s=x".into()),
            (1, "rtmp://m/live/r.1?s=y".into()),
        ],
    );
    let args = build_args(&spec, &[], None, &FfmpegRunner::new("ffmpeg")).unwrap();
    let joined = args.join(" ");
    // Inputs in layout order: uid 1 is input 0, uid 2 input 1; canvas 2, silence 3.
    assert!(joined.contains("-i rtmp://m/live/r.1?s=y -protocol_whitelist rtmp,rtmps,tcp,tls -f flv -rw_timeout 3000000 -analyzeduration 1000000 -thread_queue_size 512 -i rtmp://m/live/r.2?s=x"), "{joined}");
    assert!(joined.contains("-re -f lavfi -i color=c=0x0000FF:s=1280x720:r=15"));
    assert!(joined.contains("-re -f lavfi -i anullsrc=r=44100:cl=mono"));
    let g = &args[args.iter().position(|a| a == "-filter_complex").unwrap() + 1];
    assert_eq!(
        g,
        "[2:v]setsar=1[c0];\
[1:v]scale=640:360:force_original_aspect_ratio=decrease:force_divisible_by=2,setsar=1[u0];\
[c0][u0]overlay=x=640+(640-w)/2:y=0+(360-h)/2:eof_action=pass[c1];\
[0:v]scale=640:360:force_original_aspect_ratio=increase,crop=640:360,setsar=1[u1];\
[c1][u1]overlay=x=0:y=0:eof_action=pass[c2];\
[c2]format=yuv420p[vout];\
[3:a][0:a]amix=inputs=2:duration=first:dropout_transition=0:normalize=0,aresample=44100,aformat=sample_fmts=fltp:channel_layouts=mono[aout]"
    );
    assert!(
        joined.ends_with("-c:a aac -b:a 96k -ar 44100 -ac 1 -f flv rtmp://cdn/live/k"),
        "{joined}"
    );

    let rec = build_args(
        &spec,
        &[],
        Some(Path::new("/r/a|b.flv")),
        &FfmpegRunner::new("ffmpeg"),
    )
    .unwrap();
    assert_eq!(
        rec.last().unwrap(),
        "[f=flv:onfail=abort]rtmp://cdn/live/k|[f=flv:onfail=ignore]/r/a\\|b.flv"
    );

    let mut bad = spec.clone();
    bad.task.stream_url = "file:///etc/passwd".into();
    assert!(build_args(&bad, &[], None, &FfmpegRunner::new("ffmpeg")).is_err());

    // A drawn image is a local file with a forced demuxer and decoder, never a URL; one that
    // was not fetched is an error.
    let mut with_image = spec.clone();
    with_image.task.layout.images = vec![mprtc::protocol::tasks::LayoutImage {
        url: "http://169.254.169.254/creds?.ans".into(),
        x: 0,
        y: 0,
        width: 10,
        height: 10,
        adaption: ADAPTION_FIT,
    }];
    assert!(build_args(&with_image, &[None], None, &FfmpegRunner::new("ffmpeg")).is_err());
    let local = LocalImage {
        path: "/run/img/ab.png".into(),
        format: ImageFormat::Png,
    };
    let args = build_args(
        &with_image,
        &[Some(local)],
        None,
        &FfmpegRunner::new("ffmpeg"),
    )
    .unwrap();
    let joined = args.join(" ");
    assert!(
        joined.contains(
            "-protocol_whitelist file -f image2 -pattern_type none -c:v png -i /run/img/ab.png"
        ),
        "{joined}"
    );
    assert!(!joined.contains("169.254"), "{joined}");
}
