# medport serve in a container (docs/DEPLOY.md). Two stages on Debian bookworm:
#   build:   Debian's toolchain and libraries, ONNX Runtime 1.29.0 from the same pinned npm package
#            as setup.sh (sha256-checked), then only the medport binary is built;
#   runtime: the shared libraries medport links, ONNX Runtime, the binary, a non-root user.
# The model repository is mounted at /models (medport export --format triton); state (few-shot
# banks, audit log) goes to /var/lib/medport.
#
#   docker build -t medport:0.1.0 .
#   docker run --rm -p 8080:8080 -v $PWD/repo:/models:ro -v $PWD/tokens:/etc/medport/tokens:ro medport:0.1.0

ARG DEBIAN_IMAGE=debian:bookworm-slim

FROM ${DEBIAN_IMAGE} AS build
ARG ORT_NPM_PACKAGE=com.github.asus4.onnxruntime@0.4.9
ARG ORT_NPM_SHA256=e59788788818fdde1b2e522e766a21ba0f7d8391de55737abf81e32cc801785d
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Debian stable fixes the versions of a release; exact pins would block its security updates.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config ca-certificates npm \
      libopencv-dev libonnx-dev libprotobuf-dev protobuf-compiler libzip-dev zlib1g-dev libssl-dev \
      libniftiio-dev libnifti2-dev libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libyaml-cpp-dev \
      libcpp-httplib-dev libbrotli-dev prometheus-cpp-dev libdcmtk-dev libpq-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/ort
# The same package and checksum as setup.sh (tests/test_deploy_manifests.cpp keeps them equal).
RUN npm pack --silent "${ORT_NPM_PACKAGE}" \
 && echo "${ORT_NPM_SHA256}  $(ls ./*.tgz)" | sha256sum -c - \
 && tar -xzf ./*.tgz \
      "package/Plugins/iOS~/onnxruntime.xcframework/ios-arm64/onnxruntime.framework/Headers" \
      package/Plugins/Linux/x64/libonnxruntime.so package/Plugins/Linux/x64/libonnxruntime_providers_shared.so \
      package/LICENSE package/ThirdPartyNotices.txt \
 && mkdir -p root/include root/lib \
 && cp "package/Plugins/iOS~/onnxruntime.xcframework/ios-arm64/onnxruntime.framework/Headers/"*.h root/include/ \
 && cp package/Plugins/Linux/x64/*.so root/lib/ \
 && ln -s libonnxruntime.so root/lib/libonnxruntime.so.1 \
 && cp package/LICENSE package/ThirdPartyNotices.txt root/ \
 && rm -rf package ./*.tgz
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake cmake
COPY include include
COPY src src
COPY apps apps
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DONNXRUNTIME_ROOT=/opt/ort/root \
      -DMEDPORT_BUILD_TESTS=OFF -DMEDPORT_BUILD_BENCH=OFF \
      -DCMAKE_INSTALL_RPATH=/opt/medport/lib -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON \
 && cmake --build build --target medport \
 && strip build/medport

FROM ${DEBIAN_IMAGE} AS runtime
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libopencv-core406 libopencv-imgproc406 libopencv-imgcodecs406 libopencv-videoio406 \
      libonnx1 libprotobuf32 libzip4 zlib1g libniftiio2 libyaml-cpp0.7 libspdlog1.10 libfmt9 \
      libcpp-httplib0.11 libprometheus-cpp-core1.0 libssl3 libdcmtk17 libpq5 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 medport \
 && useradd --system --uid 10001 --gid medport --home-dir /var/lib/medport --shell /usr/sbin/nologin medport \
 && mkdir -p /models /var/lib/medport /etc/medport \
 && chown medport:medport /var/lib/medport
COPY --from=build /opt/ort/root/lib/ /opt/medport/lib/
COPY --from=build /opt/ort/root/LICENSE /opt/ort/root/ThirdPartyNotices.txt /opt/medport/share/onnxruntime/
COPY --from=build /src/build/medport /opt/medport/bin/medport
ENV PATH=/opt/medport/bin:$PATH
USER 10001:10001
WORKDIR /var/lib/medport
EXPOSE 8080
ENTRYPOINT ["/opt/medport/bin/medport", "serve"]
CMD ["--models", "/models", "--host", "0.0.0.0", "--port", "8080", "--token-file", "/etc/medport/tokens", "--state-dir", "/var/lib/medport"]
