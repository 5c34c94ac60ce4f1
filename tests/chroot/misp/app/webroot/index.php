<?php
// Test double of MISP's front controller. CakeSession sets the session cookie flags with ini_set()
// and throws "Unable to configure the session" (a 500) when that fails, as it does when PHP-FPM
// locks them with php_admin_flag; then the session starts in Redis (the pool's save handler).
foreach (array('session.cookie_secure', 'session.cookie_httponly') as $flag) {
    if (ini_set($flag, '1') === false) {
        http_response_code(500);
        echo "CakeSessionException: Unable to configure the session, setting $flag failed.";
        exit;
    }
}
if (!session_start()) {
    http_response_code(500);
    echo 'session_start failed';
    exit;
}
$_SESSION['requests'] = ($_SESSION['requests'] ?? 0) + 1;
if (parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) === '/servers/getVersion') {
    $v = json_decode(file_get_contents(dirname(__DIR__, 2) . '/VERSION.json'), true);
    header('Content-Type: application/json');
    echo json_encode(array(
        'version' => "{$v['major']}.{$v['minor']}.{$v['hotfix']}",
        'memory_limit' => ini_get('memory_limit'),
        'max_execution_time' => ini_get('max_execution_time'),
        'session.save_handler' => ini_get('session.save_handler'),
        'session_requests' => $_SESSION['requests'],
    ));
    exit;
}
http_response_code(404);
