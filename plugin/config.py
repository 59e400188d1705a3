"""piccl's configuration: ``PICCL_*`` environment variables and an optional file.

Precedence, highest first: keyword arguments (the CLI), environment variables,
the config file (YAML or TOML, path in ``PICCL_CONFIG`` or ``--config``), the
defaults below. Unknown keys are rejected with the key's name so that a typo
in a NAS template never silently falls back to a default. Nested values come
from the environment with ``__``: ``PICCL_BLUR__METHOD=piccl2021``.
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
    YamlConfigSettingsSource,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BlurSettings(_Strict):
    method: Literal["tiled", "piccl2021"] = Field(
        "tiled",
        description="Blur method: 'tiled' (default; resolution-independent, judged by the sharpest "
        "tiles, tells shake from defocus) or 'piccl2021' (the seed paper's rule: variance of the "
        "Laplacian of the full-size grey photo below a threshold).",
    )
    threshold: float = Field(
        0.0,
        ge=0,
        description="Score below which the 'tiled' method calls a photo blurry; 0 means the built-in "
        "default. The score is 1 / the edge width (Gaussian sigma, px) of the photo's sharpest part at "
        "the analysis size (a perfect edge reads 0.58 px); the default 0.806 means edges wider than 1.24 px "
        "are blurry.",
    )
    min_long_side: int = Field(
        320,
        ge=0,
        description="The 'tiled' method does not judge photos whose long side is below this many pixels "
        "(thumbnails, avatars, crops), where resampling blur and camera blur look alike.",
    )
    piccl2021_threshold: float = Field(
        400.0, gt=0, description="Variance-of-Laplacian threshold of the PICCL paper (Fig. 3, alpha=400)."
    )


class DarkSettings(_Strict):
    method: Literal["luminance"] = Field(
        "luminance",
        description="Dark-photo method: 'luminance' (luminance distribution plus EXIF exposure). "
        "Kept open for a model-based method (the PICCL paper's Table 2 CNN).",
    )
    threshold: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Score (0-1) at or above which a photo is called dark; 0 means the built-in default "
        "(0.5). The score is the larger of the photo's own darkness (how far its brightest 1% sits below "
        "white) and the scene's dimness from EXIF (scene EV100 from exposure time, f-number and ISO).",
    )


class WorkerSettings(_Strict):
    count: int = Field(0, ge=0, description="Worker count; 0 means one per CPU core.")
    kind: Literal["process", "thread"] = Field(
        "process",
        description="'process' isolates decoder crashes and enforces the per-file time limit by killing "
        "the worker; 'thread' avoids process start-up (measured in tests/bench/bench_scan.py).",
    )
    per_file_timeout_s: float = Field(60.0, gt=0, description="Seconds one photo may take before it is "
                                      "recorded as 'timeout' (enforced in 'process' mode).")
    max_tasks_per_worker: int = Field(500, ge=1, description="Recycle a worker process after this many "
                                      "photos, which bounds memory held by decoders.")
    commit_every: int = Field(50, ge=1, le=5000, description="Photos written to the database per transaction.")
    stop_grace_s: float = Field(
        4.0, ge=0, le=60, description="On stop (SIGTERM), seconds photos already being analysed get to finish "
        "and be stored; the rest are read at the next start. Keep it under the container's stop timeout.")


class ServiceSettings(_Strict):
    max_restarts: int = Field(5, ge=0, le=100, description="A part of 'piccl run' (web server, watcher, scheduler, "
                              "analysis) that stops is restarted at most this many times in 'restart_window_min'; "
                              "after that it stays stopped and /healthz answers 503.")
    restart_window_min: float = Field(10.0, gt=0, description="The window over which restarts are counted.")
    check_interval_s: float = Field(2.0, gt=0, le=60, description="How often the supervisor looks at its parts.")
    stop_timeout_s: float = Field(
        8.0, gt=0, le=300, description="On SIGTERM, seconds piccl takes at most to store what it has and exit. "
        "Docker kills a container 10 s after 'docker stop' unless its stop_grace_period says otherwise.")
    log_format: Literal["auto", "plain", "pretty"] = Field(
        "auto", description="'plain': one line per event with time, level and source (for 'docker logs'); "
        "'pretty': coloured for a terminal; 'auto': pretty on a terminal, plain otherwise.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Least important level logged ('piccl -v' is DEBUG). Error tracebacks are logged in "
        "full at DEBUG only; otherwise an error is one line.")


class InferenceSettings(_Strict):
    device: str = Field(
        "auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$",
        description="Where models run: 'auto' (the first NVIDIA GPU when onnxruntime-gpu sees one, else the CPU), "
        "'cpu', or 'cuda:N' (GPU number N; falls back to the CPU with a warning when there is no such GPU).")
    tensorrt: bool = Field(False, description="Try TensorRT before CUDA (NVIDIA only). Its engines are built on "
                           "first use, which takes minutes, and cached in <data_dir>/models/tensorrt.")
    threads: int = Field(0, ge=0, le=64, description="CPU threads per model session; 0 means the cores divided by "
                         "the scan workers (at least 1), so workers and models never oversubscribe the CPU.")
    idle_unload_s: float = Field(300.0, ge=0, description="Unload a model after this many seconds unused (0: "
                                 "keep it loaded). Scan workers release theirs when the scan ends anyway.")
    download: bool = Field(True, description="Download a missing model from its source (checked by sha256) into "
                           "<data_dir>/models. Off: a missing model leaves its analyzer 'not installed'.")


class TagSettings(_Strict):
    mapping: Literal["piccl2021"] = Field(
        "piccl2021", description="COCO class -> tag table: 'piccl2021' is the PICCL paper's Table 1 "
        "(person, animal, vehicle, furniture, book, bag, sports, food, device).")
    min_score: float = Field(0.25, gt=0, lt=1, description="Detector score (objectness x class) at or above which "
                             "an object is kept and tags the photo.")
    nms_iou: float = Field(0.45, gt=0, lt=1, description="Overlap (IoU) above which two boxes of one class are "
                           "the same object (per-class non-maximum suppression).")
    max_objects: int = Field(100, ge=1, le=1000, description="Objects kept per photo, highest scores first.")


class SceneSettings(_Strict):
    method: Literal["imagenet_objects"] = Field(
        "imagenet_objects", description="Scene rule: EfficientNet-Lite0's ImageNet classes grouped into animal, "
        "vehicle, building and landscape, together with the detector's people, animals and vehicles.")
    subject_area: float = Field(0.10, gt=0, le=1, description="A person, animal or vehicle box covering at least "
                                "this fraction of the photo makes it a people / animal / vehicle photo.")
    small_subject_area: float = Field(
        0.02, gt=0, le=1, description="A smaller subject (down to this fraction) still decides the scene, unless "
        "the classifier sees a place (building or landscape) with at least 'place_mass'.")
    place_mass: float = Field(0.4, gt=0, le=1, description="ImageNet probability of building + landscape classes "
                              "above which small subjects are taken as part of the place.")
    classifier_subject_mass: float = Field(
        0.85, gt=0, le=1, description="ImageNet probability of animal (or vehicle) classes that makes an animal "
        "(vehicle) photo without the detector (it knows ten animals; ImageNet knows 398).")
    other_mass: float = Field(0.7, gt=0, le=1, description="ImageNet probability of classes that are neither "
                              "places, animals nor vehicles (things indoors) above which the scene is 'other'.")
    detection_score: float = Field(0.3, gt=0, lt=1, description="Detector score a subject needs to count.")


class FaceSettings(_Strict):
    detector: Literal["yunet"] = Field("yunet", description="Face detector: YuNet through OpenCV's FaceDetectorYN.")
    embedder: Literal["mobilefacenet", "insightface"] = Field(
        "mobilefacenet", description="Face embedding backend: 'mobilefacenet' (128-d, shipped) or 'insightface' "
        "(an InsightFace pack such as buffalo_l in the models folder, through the optional insightface package).")
    insightface_pack: str = Field("buffalo_l", description="Folder name of the InsightFace pack in the models "
                                  "folder (used when embedder is 'insightface').")
    min_score: float = Field(0.7, gt=0, lt=1, description="YuNet score at or above which a detection is a face "
                             "(OpenCV's default is 0.6; textures such as flowers reach 0.6-0.8).")
    min_size: int = Field(16, ge=8, le=512, description="Smallest face kept, shorter box side in pixels of the "
                          "analysis image (long side 'analysis_size').")
    max_faces: int = Field(50, ge=1, le=500, description="Faces kept per photo, highest scores first.")
    cluster_min_size: int = Field(36, ge=8, le=512, description="Faces smaller than this (analysis-image pixels) "
                                  "are kept but not grouped: too small to judge.")
    cluster_min_sharpness: float = Field(
        40.0, ge=0, description="Faces whose crop is less sharp than this (variance of the Laplacian on the face "
        "resized to 64 px) are kept but not grouped: too blurry to judge.")
    match_rule: Literal["calibrated", "smart_album_72"] = Field(
        "calibrated", description="When a face joins a person: 'calibrated' uses 'match_threshold' (cosine "
        "similarity to the person's representative vector); 'smart_album_72' is the smart-album paper's 72% match, "
        "read as (1 + cosine) / 2 >= 0.72, that is cosine >= 0.44.")
    match_threshold: float = Field(0.50, gt=-1, lt=1, description="Cosine similarity to a person's representative "
                                   "vector at or above which a new face joins that person (calibrated rule).")
    match_margin: float = Field(0.05, ge=0, lt=1, description="A face that matches two people within this margin "
                                "waits among the unassigned faces instead of guessing.")
    cluster_threshold: float = Field(0.40, gt=-1, lt=1, description="Average cosine similarity between two groups "
                                     "of unassigned faces at or above which re-clustering joins them.")
    min_faces: int = Field(3, ge=2, le=100, description="Faces a new person needs before re-clustering forms it.")
    cluster_interval_min: float = Field(60.0, ge=0, description="Re-cluster faces every so many minutes while "
                                        "watching (0: only with 'piccl faces cluster').")


class SimilarSettings(_Strict):
    method: Literal["default", "piccl2021"] = Field(
        "default", description="How photos are grouped: 'default' (identical files by content hash, copies and "
        "edits by perceptual hash across the whole library, bursts and similar shots by time, place and image "
        "features) or 'piccl2021' (the PICCL paper's Figure 4: same day, same tag, time and GPS within "
        "piccl2021_alpha_s / _beta_deg / _gamma_deg).")
    same_distance: int = Field(
        4, ge=0, le=16, description="Hash bits (of 64) within which two photos of the same colour and shape are "
        "the same picture (another size, quality, format or orientation): a 'duplicate'.")
    near_distance: int = Field(
        8, ge=0, le=16, description="Hash bits within which two photos are an edit of one another (mirrored, "
        "black and white, cropped a little): a 'near_duplicate'. Pairs further apart than 3 bits are found when "
        "one quarter of their hashes is equal, which holds for nearly all real edits.")
    near_feature: float = Field(
        0.75, gt=0, le=1, description="Image-feature similarity (cosine, EfficientNet-Lite0) at or above which a "
        "photo without a camera date is taken as an edit (rotated, cropped, recoloured) of a photo close in time.")
    window_gap_s: float = Field(
        60.0, gt=0, description="Photos whose times are at most this many seconds apart are compared for "
        "'similar' (a burst, a bracket, the same scene shot again); sorting by time makes this linear.")
    similar_feature: float = Field(
        0.85, gt=0, le=1, description="Image-feature similarity (cosine) at or above which two shots close in "
        "time are 'similar'. Bursts and brackets reach 0.9 and more; different things seen the same hour stay "
        "below 0.7.")
    max_distance_m: float = Field(
        100.0, gt=0, description="Two shots with GPS further apart than this are never similar.")
    max_span_s: float = Field(
        300.0, gt=0, description="A group of similar shots spans at most this many seconds: a slow series (a "
        "timelapse, a walk along one street) is cut into moments instead of chaining into one endless group. "
        "Copies and edits join their original whatever their dates.")
    window_neighbours: int = Field(
        24, ge=1, le=500, description="In a run of photos with (nearly) the same time, each is compared with this "
        "many neighbours in time order, which bounds the work on folders copied at once (same file time).")
    piccl2021_alpha_s: float = Field(
        60.0, gt=0, description="PICCL Figure 4 'alpha': time difference in seconds (the paper gives no value).")
    piccl2021_beta_deg: float = Field(
        0.0005, gt=0, description="PICCL Figure 4 'beta': longitude difference in degrees (~40-55 m).")
    piccl2021_gamma_deg: float = Field(
        0.0005, gt=0, description="PICCL Figure 4 'gamma': latitude difference in degrees (~55 m).")


class GifSettings(_Strict):
    folder: str = Field(
        "piccl-gifs", description="Folder in the library where GIFs and WebPs made from bursts are saved (created "
        "when needed; a file there is never overwritten; scans skip the animations piccl made, nothing else).")
    size: int = Field(480, ge=64, le=2048, description="Long side of the animation in pixels.")
    fps: float = Field(4.0, gt=0, le=30, description="Frames per second.")
    max_frames: int = Field(60, ge=2, le=500, description="Most photos in one animation.")

    @field_validator("folder")
    @classmethod
    def _relative_folder(cls, value: str) -> str:
        parts = value.strip("/").split("/")
        if not value.strip("/") or any(p in {"", ".", ".."} or "\\" in p or "\0" in p for p in parts):
            raise ValueError("must be a folder path inside the library, such as 'piccl-gifs'")
        return value.strip("/")


class PlaceSettings(_Strict):
    max_distance_km: float = Field(
        50.0, gt=0, le=500, description="A photo whose nearest populated place (GeoNames, 1,000 people or more) is "
        "farther than this gets no place at all (at sea, in a desert): a place is never guessed. 99% of GeoNames' "
        "places have another within 66 km, half within 4.4 km.")
    event_gap_h: float = Field(
        6.0, gt=0, le=168, description="Photos taken more than this many hours apart (camera dates) are in "
        "different events: a night's sleep (8 h and more between the last photo and the next) splits days, while "
        "a day's pauses (lunch, a drive) stay inside one event.")
    event_split_km: float = Field(
        100.0, ge=0, description="Photos with GPS this far apart (and more than 'event_split_gap_h' apart in "
        "time) start a new event even within 'event_gap_h': a flight or a long drive lies between them. 0: off.")
    event_split_gap_h: float = Field(
        1.0, ge=0, description="The time two far-apart photos need between them for 'event_split_km' to split: "
        "photos out of a train or car window, minutes apart, stay one journey.")


class XmpSettings(_Strict):
    enabled: bool = Field(True, description="While watching (piccl watch / run), write piccl's tags, people and "
                          "places into XMP sidecars beside the photos of local libraries. The photos themselves are "
                          "never changed.")
    interval_min: float = Field(10.0, gt=0, description="Minutes between write-back runs while watching (each writes "
                                "only the sidecars whose content changed).")
    naming: Literal["photo.ext.xmp", "photo.xmp"] = Field(
        "photo.ext.xmp", description="Name of a new sidecar: 'photo.ext.xmp' (IMG_1234.jpg.xmp: darktable, digiKam, "
        "Immich) or 'photo.xmp' (IMG_1234.xmp: Lightroom, PhotoPrism). An existing sidecar of either name is "
        "updated in place.")


class WebDavSettings(_Strict):
    verify_tls: bool = Field(True, description="Check the server's TLS certificate. Turn off only for a server on "
                             "your own LAN with a self-signed certificate; better, give its CA in 'ca_file'.")
    ca_file: Path | None = Field(None, description="CA certificate (PEM) that signed the server's certificate (a "
                                 "self-signed NAS or Nextcloud).")
    timeout_s: float = Field(30.0, gt=0, le=600, description="Seconds to wait to connect, and between two pieces "
                             "of an answer, before a request counts as failed.")
    retries: int = Field(4, ge=0, le=10, description="Tries after the first for a request that failed on the "
                         "way (5xx, a dropped connection, a timeout); the pause doubles from 'backoff_s' each time.")
    backoff_s: float = Field(1.0, ge=0, le=60, description="Pause before the first retry, in seconds.")
    parallel: int = Field(4, ge=1, le=32, description="Requests in flight at once (downloads and listings). "
                          "A small NAS or a shared Nextcloud is better served by few.")
    poll_interval_min: float = Field(15.0, gt=0, description="Minutes between scans of a WebDAV library while "
                                     "watching (each lists the folders and reads only new or changed photos).")
    trash: Literal["folder", "nextcloud"] = Field(
        "folder", description="Where 'Trash' puts a photo of a WebDAV library: 'folder' moves it into the "
        "trash folder in the library (like a local library); 'nextcloud' deletes it through WebDAV, which "
        "puts it into Nextcloud's own trash bin (restore from the review UI or from Nextcloud).")
    sidecars: bool = Field(True, description="Upload piccl's XMP sidecars next to the photos of WebDAV libraries.")
    nextcloud_tags: bool = Field(False, description="Write piccl's tags, people and places as Nextcloud "
                                 "collaborative tags (what Nextcloud Files, Photos and Memories show and search).")
    tag_prefix: str = Field("", max_length=32, description="Put before every collaborative tag piccl assigns "
                            "(for example 'piccl: '), so piccl's tags stand apart from the household's own.")
    create_tags: bool = Field(True, description="Create missing collaborative tags. Where only admins may create "
                              "tags, turn off to assign only tags that already exist.")
    requests_per_s: float = Field(10.0, gt=0, le=1000, description="Most collaborative-tag requests per second.")


class UISettings(_Strict):
    host: str = Field("127.0.0.1", description="Address the review UI listens on ('0.0.0.0' in the container).")
    port: int = Field(8080, ge=1, le=65535, description="Port of the review UI.")
    threads: int = Field(
        0, ge=0, le=64, description="Request threads of the WSGI server (waitress); 0 means one per CPU core. More "
        "threads than cores only make requests wait for each other (measured in tests/bench/bench_ui.py).")
    username: str = Field("piccl", min_length=1, max_length=64, description="Name of the household account.")
    login_required: bool = Field(
        True, description="Ask for the household password. Turn off only on a LAN where everyone may see and "
        "trash every photo; CSRF protection stays on either way.")
    secure_cookies: bool = Field(False, description="Send the session cookie over HTTPS only (set it when piccl "
                                 "sits behind an HTTPS reverse proxy).")
    session_days: int = Field(30, ge=1, le=365, description="Days a login lasts on a device.")
    login_attempts_per_minute: int = Field(10, ge=1, description="Login attempts allowed per client address "
                                           "per minute (and ten times that per hour).")
    page_size: int = Field(60, ge=10, le=500, description="Photos per page of a grid.")


class Settings(BaseSettings):
    """Everything piccl can be told. See README 'Configuration'."""

    model_config = SettingsConfigDict(
        env_prefix="PICCL_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    library: Annotated[list[Path | str], NoDecode] = Field(
        default_factory=list,
        description="Photo library folder(s), or WebDAV folder URL(s) (https://cloud.example/remote.php/dav/"
        "files/anna/Photos). From the environment: one, or several separated by ':'. A scan only reads.",
    )
    webdav_user: str | None = Field(None, description="User name for WebDAV libraries (in Nextcloud, the login).")
    webdav_password: SecretStr | None = Field(None, description="Password for WebDAV libraries; in Nextcloud an "
                                              "app password (Settings > Security). Never logged.")
    webdav_password_file: Path | None = Field(None, description="File holding the WebDAV password (a Docker "
                                              "secret); read when 'webdav_password' is not given.")
    webdav: WebDavSettings = Field(default_factory=WebDavSettings, description="WebDAV and Nextcloud libraries.")
    data_dir: Path = Field(Path("./piccl-data"), description="Database, thumbnails and caches "
                           "('/config' in the container).")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite in data_dir. "
                                     "PostgreSQL works: postgresql+psycopg2://user:pw@host/db.")
    models_dir: Path | None = Field(None, description="Folder with model files, looked up before the cache.")
    analysis_size: int = Field(1024, ge=256, le=4096, description="Long side in pixels at which photos "
                               "are decoded and analysed.")
    max_image_pixels: int = Field(
        200_000_000, ge=1_000_000,
        description="Decompression-bomb limit: photos with more pixels are recorded as 'decompression_bomb' "
        "and never decoded. The default admits 200 MP phone photos.")
    max_file_bytes: int = Field(1_000_000_000, ge=1, description="Files larger than this are skipped.")
    heic_thumbnail_min_side: int = Field(
        1024, ge=0,
        description="Use a HEIC's embedded thumbnail instead of a full decode when its long side is at least "
        "this many pixels (0: always decode fully). libheif has no reduced-size decode, but a thumbnail smaller "
        "than analysis_size makes blur detection less sensitive, hence the default. Photos over 100 MP use any "
        "thumbnail of 320 px or more, to bound memory.")
    blur: BlurSettings = Field(default_factory=BlurSettings, description="Blur/shake analyzer.")
    dark: DarkSettings = Field(default_factory=DarkSettings, description="Dark-photo analyzer.")
    workers: WorkerSettings = Field(default_factory=WorkerSettings, description="Scan workers.")
    watch_polling: bool = Field(False, description="Poll the library instead of using inotify "
                                "(SMB/NFS shares, where inotify sees nothing).")
    watch_poll_interval_s: float = Field(30.0, gt=0, description="Polling interval for 'watch_polling'.")
    watch_settle_s: float = Field(5.0, ge=0, description="A new file is read once its size and mtime have not "
                                  "changed for this long.")
    rescan_interval_min: float = Field(360.0, ge=0, description="Full rescan of the library every so many "
                                       "minutes while watching (0 disables).")
    trash_dir_name: str = Field(".piccl-trash", description="Name of piccl's trash folder in the library root.")
    trash_retention_days: float = Field(
        30.0, ge=0, description="'Empty trash' deletes for good only photos trashed at least this many days ago, "
        "unless the user asks for all of it.")
    trash_auto_empty: bool = Field(
        True, description="While 'piccl run' or 'piccl watch' runs, delete for good once a day the photos trashed "
        "more than 'trash_retention_days' ago, as Immich and phone galleries do. Off: the trash keeps everything "
        "until you empty it in the UI. Nextcloud's trash bin keeps its own retention either way.")
    password: SecretStr | None = Field(None, description="The household account's password. Set on each start "
                                       "when given; else set in the browser on first visit.")
    password_file: Path | None = Field(None, description="File holding the password (a Docker secret); "
                                       "read when 'password' is not given.")
    ui: UISettings = Field(default_factory=UISettings, description="The review UI (piccl serve).")
    inference: InferenceSettings = Field(default_factory=InferenceSettings, description="Model runtime "
                                         "(ONNX Runtime on GPU or CPU).")
    tags: TagSettings = Field(default_factory=TagSettings, description="Object detection and tags.")
    scene: SceneSettings = Field(default_factory=SceneSettings, description="Scene classification.")
    faces: FaceSettings = Field(default_factory=FaceSettings, description="Faces and people.")
    similar: SimilarSettings = Field(default_factory=SimilarSettings, description="Duplicates, bursts and "
                                     "similar photos.")
    gif: GifSettings = Field(default_factory=GifSettings, description="Animations made from bursts.")
    xmp: XmpSettings = Field(default_factory=XmpSettings, description="XMP sidecars (piccl writeback).")
    places: PlaceSettings = Field(default_factory=PlaceSettings, description="Places (offline reverse geocoding) "
                                  "and events.")
    service: ServiceSettings = Field(default_factory=ServiceSettings, description="'piccl run': supervision of its "
                                     "parts, stopping, logs.")

    @field_validator("library", mode="before")
    @classmethod
    def _split_library(cls, value: Any) -> Any:
        if isinstance(value, str):
            return split_libraries(value)
        if isinstance(value, Path):
            return [value]
        return value

    @field_validator("library")
    @classmethod
    def _paths_or_urls(cls, value: list[Path | str]) -> list[Path | str]:
        for item in value:
            if is_url(item) and "@" in urlsplit(str(item)).netloc:
                # A URL is printed and logged; a password in it would be too.
                raise ValueError("put the user name and password in webdav_user and webdav_password (or "
                                 "webdav_password_file), not in the library URL")
        return [item if is_url(item) else Path(item) for item in value]

    @field_validator("trash_dir_name")
    @classmethod
    def _one_folder_name(cls, value: str) -> str:
        if not value or value in {".", ".."} or "/" in value or "\\" in value or "\0" in value:
            raise ValueError("must be a single folder name")
        return value

    @model_validator(mode="after")
    def _stopping_and_emptying_fit(self) -> Settings:
        if self.trash_auto_empty and self.trash_retention_days < 1:
            # A photo trashed by a slip of the thumb would be gone for good at the next daily run.
            raise ValueError("trash_auto_empty needs trash_retention_days of 1 or more (or turn trash_auto_empty off)")
        if self.workers.stop_grace_s + 2 > self.service.stop_timeout_s:
            raise ValueError("workers.stop_grace_s must leave service.stop_timeout_s 2 s to store and close")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'piccl.sqlite3').resolve()}"

    def household_password(self) -> str | None:
        """The password from ``password`` or ``password_file``, or None when neither is given.

        An empty ``password`` counts as not given: compose files pass ``PICCL_PASSWORD: ${PICCL_PASSWORD:-}``,
        which must not hide a ``password_file`` (a Docker secret) set beside it.
        """
        if self.password is not None and self.password.get_secret_value():
            return self.password.get_secret_value()
        if self.password_file is not None:
            try:
                return self.password_file.read_text(encoding="utf-8").strip() or None
            except OSError as exc:
                raise ConfigError(f"password_file {self.password_file}: {exc.strerror}") from None
        return None

    def webdav_credentials(self) -> tuple[str, str] | None:
        """(user, password) for WebDAV libraries, or None when no user is given."""
        if not self.webdav_user:
            return None
        if self.webdav_password is not None:
            return self.webdav_user, self.webdav_password.get_secret_value()
        if self.webdav_password_file is not None:
            try:
                return self.webdav_user, self.webdav_password_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"webdav_password_file {self.webdav_password_file}: {exc.strerror}") from None
        return self.webdav_user, ""

    @property
    def ui_threads(self) -> int:
        return self.ui.threads or max(2, os.cpu_count() or 2)

    @property
    def worker_count(self) -> int:
        return self.workers.count or max(1, os.cpu_count() or 1)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _CONFIG_FILE.get() or os.environ.get("PICCL_CONFIG")
        if config_file:
            path = Path(config_file)
            if path.suffix.lower() == ".toml":
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
            else:
                sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)


_URL = re.compile(r"https?://", re.IGNORECASE)


def is_url(value: object) -> bool:
    """True for a WebDAV library (an http(s) URL), False for a folder."""
    return isinstance(value, str) and _URL.match(value) is not None


def split_libraries(value: str) -> list[str]:
    """Libraries from one string separated by ':' (os.pathsep), where URLs keep their own colons.

    A URL ends at a ':' that starts a folder ('/') or another URL; its scheme and port colons stay.
    """
    if os.pathsep != ":" or "://" not in value:
        return [p for p in value.split(os.pathsep) if p]
    items: list[str] = []
    rest = value
    while rest:
        if _URL.match(rest):
            scheme_end = rest.index("://") + 3
            cut = re.search(r":(?=/|https?://)", rest[scheme_end:], re.IGNORECASE)
            end = len(rest) if cut is None else scheme_end + cut.start()
        else:
            end = rest.find(":")
            end = len(rest) if end < 0 else end
        if rest[:end]:
            items.append(rest[:end])
        rest = rest[end + 1:]
    return items


# The --config file of the load_settings() call under way (the environment's PICCL_CONFIG otherwise).
_CONFIG_FILE: ContextVar[str | None] = ContextVar("piccl_config_file", default=None)

# Environment variables that piccl reads but that are not settings.
_NON_SETTING_ENV = {"PICCL_CONFIG", "PICCL_TESTDATA", "PICCL_TEST_POSTGRES_URL", "PICCL_TEST_DATABASE"}


def safe_database_url(url: str) -> str:
    """A database URL fit to print: its password as ``***``."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL may hold anything, a password included
        return "(unparsable database URL)"


class ConfigError(ValueError):
    """Configuration that cannot be used, with a message meant for a person."""


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build :class:`Settings`, turning validation errors into one readable message."""
    if config_file is not None:
        if not config_file.is_file():
            raise ConfigError(f"config file not found: {config_file}")
    elif (env_file := os.environ.get("PICCL_CONFIG")) and not Path(env_file).is_file():
        raise ConfigError(f"config file not found: {env_file} (from PICCL_CONFIG)")
    # The environment source ignores PICCL_* names it does not know; a typo there must not pass silently.
    known = {f"PICCL_{name.upper()}" for name in Settings.model_fields} | _NON_SETTING_ENV
    unknown = sorted(k for k in os.environ if k.startswith("PICCL_") and k.split("__")[0] not in known)
    if unknown:
        raise ConfigError("invalid configuration:\n" + "\n".join(f"  {k}: unknown setting" for k in unknown))
    token = _CONFIG_FILE.set(str(config_file) if config_file is not None else None)
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            if err["type"] == "extra_forbidden":
                lines.append(f"  {key}: unknown setting")
            else:
                # May carry a password: never echoed (a top-level error's input is every setting given).
                secret = not err["loc"] or "password" in key or key.startswith(("library", "database_url"))
                lines.append(f"  {key}: {err['msg']}" + ("" if secret else f" (got {err.get('input')!r})"))
        raise ConfigError("invalid configuration:\n" + "\n".join(lines)) from None
    finally:
        _CONFIG_FILE.reset(token)
