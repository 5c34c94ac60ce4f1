<?php
$config = array('debug' => 0, 'MISP' => array('baseurl' => ''));
